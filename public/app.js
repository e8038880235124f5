// Placeholder UI: shows whether the API answers /api/ready.
(async () => {
  const out = document.getElementById('ready');
  try {
    const res = await fetch('/api/ready');
    const body = await res.json();
    out.textContent = res.ok ? 'ready' : body.detail;
  } catch (e) {
    out.textContent = 'API unreachable';
  }
})();
