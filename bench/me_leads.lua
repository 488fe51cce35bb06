-- wrk script: every request is GET /api/v1/me/leads as the next rep in turn, so the load spreads
-- over many reps (each with its own token and saved leads) as it would in a real workspace.
-- The tokens file holds one bearer token per line; its path is in the TOKENS environment variable.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do
  tokens[#tokens + 1] = line
end
local next_token = 0

function request()
  next_token = next_token % #tokens + 1
  return wrk.format("GET", "/api/v1/me/leads", { ["Authorization"] = "Bearer " .. tokens[next_token] })
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("requests %d, non-2xx or socket errors %d\n", summary.requests, errors))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("p%g %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
