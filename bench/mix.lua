-- wrk script: a mix of user agents, client IPs (X-Forwarded-For; the bench worker trusts
-- it, as local dev does) and visitor cookies over the festive entry, and a JSON summary.
local uas = {
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
}
local ips = { "49.36.0.1", "2.50.0.1", "81.2.69.160", "8.8.8.8", "217.160.0.1", "176.224.0.1", "103.21.124.1", "94.200.0.1" }
local langs = { "en-IN,en;q=0.9", "ar-AE,ar;q=0.9", "en-GB", "de-DE,de;q=0.8", "hi-IN,hi;q=0.9" }
local requests = {}
local i = 0

init = function(args)
  for n = 1, 64 do
    local headers = {
      ["User-Agent"] = uas[(n % #uas) + 1],
      ["X-Forwarded-For"] = ips[(n % #ips) + 1],
      ["Accept-Language"] = langs[(n % #langs) + 1],
    }
    if n % 2 == 0 then
      headers["Cookie"] = string.format("gh_vid=%032x", n * 2654435761)
    end
    local path = "/gharart/festive"
    if n % 4 == 0 then path = path .. "?utm_source=instagram&ref=friend" end
    requests[n] = wrk.format("GET", path, headers)
  end
end

request = function()
  i = i + 1
  return requests[(i % #requests) + 1]
end

done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
