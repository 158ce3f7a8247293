// Keeps the ratio, size and reference limit in step with the chosen model and preset.
(function () {
  const config = JSON.parse(document.getElementById("composer-config").textContent);
  const form = document.getElementById("composer");
  const provider = document.getElementById("id_provider");
  const model = document.getElementById("id_model");
  const ratio = document.getElementById("id_aspect_ratio");
  const size = document.getElementById("id_size");
  const style = document.getElementById("id_style");
  const preset = document.getElementById("id_preset");
  const refLimit = document.getElementById("ref-limit");

  function fill(select, values, wanted) {
    const keep = values.includes(wanted) ? wanted : (values.includes(select.value) ? select.value : values[0]);
    select.replaceChildren(...values.map((v) => new Option(v, v, false, v === keep)));
  }

  function syncModels() {
    const allowed = config.providers[provider.value] || [];
    for (const option of model.options) option.hidden = option.disabled = !allowed.includes(option.value);
    if (!allowed.includes(model.value) && allowed.length) model.value = allowed[0];
  }

  function syncModel(wantedRatio, wantedSize) {
    const caps = config.models[model.value];
    if (!caps) return;
    fill(ratio, caps.ratios, wantedRatio);
    fill(size, caps.sizes, wantedSize || (caps.sizes.includes("1K") ? "1K" : caps.sizes[0]));
    refLimit.textContent = `(up to ${caps.maxRefs} for ${caps.label}; PNG, JPEG, WebP; 20 MB each)`;
  }

  // The live quote posts no files, only how many there are (input images are billed too).
  const references = document.getElementById("id_references");
  const referenceCount = document.getElementById("id_reference_count");
  if (references && referenceCount) {
    references.addEventListener("change", () => { referenceCount.value = references.files.length; });
  }

  provider.addEventListener("change", () => { syncModels(); syncModel(); });
  model.addEventListener("change", () => syncModel(ratio.value, size.value));
  // A preset sets its style unless the user chose another one themselves: the style a
  // previous preset set is replaced (or cleared), not carried over to the next preset.
  let presetStyle = "";
  preset.addEventListener("change", () => {
    const p = config.presets[preset.value];
    if (style && style.value === presetStyle) style.value = (p && p.style) || "";
    presetStyle = style && p && p.style && style.value === p.style ? p.style : "";
    if (!p) return;
    syncModel(p.ratio || ratio.value, p.size || size.value);
    form.dispatchEvent(new Event("change"));
  });
  syncModels();
  syncModel(ratio.value, size.value);
})();
