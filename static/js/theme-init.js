// A classic script in <head>: sets the theme before the first paint so a dark page never
// flashes white (a module would run too late).
document.documentElement.dataset.theme = localStorage.getItem('chainrule-theme')
  || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
