// Small behaviours shared by every page. Pages work without this file.
document.addEventListener("htmx:responseError", (event) => {
  // htmx does not swap 4xx/5xx responses by default; show the server's message in place.
  const target = event.detail.target;
  if (target && event.detail.xhr.responseText) {
    target.innerHTML = event.detail.xhr.responseText;
  }
});
