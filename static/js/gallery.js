// "Copy prompt" buttons: copy the text of the element named by data-copy-target.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copyTarget)?.textContent ?? "";
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed: select the prompt";
  }
  setTimeout(() => { button.textContent = label; }, 1500);
});
