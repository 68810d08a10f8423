// The container's HEALTHCHECK: exits 0 when the control API's /healthz answers 200, 1
// otherwise (not listening, 503, no answer within the timeout). Node itself, because the
// slim image has no curl. GWORKER_HEALTH_URL overrides the address, for a manifest whose
// control setting moved the API.
const url = process.env.GWORKER_HEALTH_URL ?? 'http://127.0.0.1:4731/healthz';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  const body = (await res.text()).trim();
  if (res.ok) process.exit(0);
  console.error(`${url}: ${res.status} ${body}`);
} catch (err) {
  console.error(`${url}: ${err.cause?.code ?? err.message}`);
}
process.exit(1);
