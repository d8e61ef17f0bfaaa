-- wrk script for the lab: sends the configured method/body and, when wrk is done,
-- prints ONE line "WRK_SUMMARY_JSON {...}" so bench/parse_wrk.py never has to read
-- wrk's human report (rounded units like "1.23ms", "4.56k").
--
-- Environment:
--   WRK_METHOD     request method (default GET)
--   WRK_BODY_FILE  file whose bytes are the request body, sent as application/json
--
-- JSON fields: requests, duration_us, bytes, errors {connect, read, write, timeout,
-- status} (status = responses with code > 399, as wrk counts them), and latency_us
-- {mean, stdev, max, p50, p75, p90, p99, p99_9}, or null when no latency was recorded.

wrk.method = os.getenv("WRK_METHOD") or "GET"

local body_file = os.getenv("WRK_BODY_FILE")
if body_file and body_file ~= "" then
   local f, err = io.open(body_file, "rb")
   if not f then
      -- wrk only logs a script error and then runs plain GETs: stop instead.
      io.stderr:write("wrk_summary.lua: cannot read WRK_BODY_FILE: " .. err .. "\n")
      os.exit(2)
   end
   wrk.body = f:read("*a")
   f:close()
   wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
   local e = summary.errors
   local lat = "null"
   -- wrk keeps only latencies up to --timeout; with none recorded its stats are not numbers.
   if summary.requests > 0 and latency.max > 0 then
      lat = string.format(
         '{"mean":%.3f,"stdev":%.3f,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d}',
         latency.mean, latency.stdev, latency.max,
         latency:percentile(50), latency:percentile(75), latency:percentile(90),
         latency:percentile(99), latency:percentile(99.9))
   end
   io.write(string.format(
      'WRK_SUMMARY_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},"latency_us":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.timeout, e.status, lat))
end
