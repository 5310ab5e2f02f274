// Hash routes, so the UI works under any base path (#/queue, #/tickets/GD…, #/dashboard).

const routes = [];

export function route(pattern, handler) {
  routes.push({ pattern, handler });
}

export function navigate(hash) {
  if (window.location.hash === hash) dispatch();
  else window.location.hash = hash;
}

export function currentPath() {
  return window.location.hash.replace(/^#/, "") || "/queue";
}

export function dispatch() {
  const path = currentPath();
  for (const { pattern, handler } of routes) {
    const match = path.match(pattern);
    if (match) return handler(...match.slice(1).map(decodeURIComponent));
  }
  return navigate("#/queue");
}

export function startRouter() {
  window.addEventListener("hashchange", dispatch);
  dispatch();
}
