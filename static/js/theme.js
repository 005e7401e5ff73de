/** The header's light/dark toggle, remembered across pages. @module theme */
const button = document.getElementById('theme-toggle');
button?.addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem('chainrule-theme', next);
  document.dispatchEvent(new CustomEvent('themechange', { detail: next }));
});
