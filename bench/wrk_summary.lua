-- wrk script for the lab: sends the configured method/body and, when wrk is done,
-- prints ONE line "WRK_SUMMARY_JSON {...}" so bench/parse_wrk.py never has to read
-- wrk's human report (rounded units like "1.23ms", "4.56k").
--
-- Environment:
--   WRK_METHOD       request method (default GET)
--   WRK_BODY_FILE    file whose bytes are the request body
--   WRK_HEADERS      "Name: value" lines sent with every request (the body's Content-Type among them)
--   WRK_CONNECTIONS  the -c value, needed to undo wrk's latency correction (below)
--
-- JSON fields: requests, duration_us, bytes, errors {connect, read, write, timeout,
-- status} (status = responses with code > 399, as wrk counts them); latency_us {mean,
-- stdev, max, p50, p75, p90, p99, p99_9, samples} of the latencies wrk measured, and
-- latency_us_wrk, the same figures as wrk itself reports them; each null when no
-- latency was recorded. correction_us is the interval wrk corrected with (null: none).
--
-- Why two: before done(), wrk adds made-up samples to its latency histogram (its
-- "coordinated omission" correction, stats_correct() called from main() in wrk.c): for
-- every recorded latency n >= 2e it adds one sample at each of n-e, n-2e, ... that is
-- above e, where e = duration / (requests / connections), in whole microseconds. A
-- closed loop never sent those requests, and on a server with a long tail they raise
-- the mean beyond what Little's law allows (gunicorn's /ping/: counted rate 10-19 %
-- above concurrency / mean latency). Every bucket m > e gained exactly the original
-- counts of the buckets m+e, m+2e, ..., so the original count is C[m] - C[m+e].

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
end

local headers = os.getenv("WRK_HEADERS")
if headers and headers ~= "" then
   for line in headers:gmatch("[^\n]+") do
      local name, value = line:match("^([^:]+):%s*(.*)$")
      if name then wrk.headers[name] = value end
   end
end

-- The interval wrk corrected with, as wrk.c computes it in integers; nil when it did not.
local function correction_interval(summary)
   local connections = tonumber(os.getenv("WRK_CONNECTIONS") or "")
   if not connections or connections < 1 then return nil end
   local per_connection = math.floor(summary.requests / connections)
   if per_connection < 1 then return nil end
   return math.floor(summary.duration / per_connection)
end

-- The histogram's values (ascending) and their counts as wrk measured them.
local function measured_histogram(latency, interval)
   local values, reported, measured = {}, {}, {}
   for i = 1, #latency do
      local value, count = latency(i)
      values[i] = value
      reported[value] = count
   end
   for _, value in ipairs(values) do
      local count = reported[value]
      if interval and value > interval then count = count - (reported[value + interval] or 0) end
      measured[value] = count
   end
   return values, measured
end

-- mean, stdev (n - 1), max and percentiles of a histogram, as wrk's stats.c computes them.
local function describe(values, counts)
   local n, sum, max = 0, 0, 0
   for _, v in ipairs(values) do
      local c = counts[v]
      if c > 0 then n, sum, max = n + c, sum + v * c, v end
   end
   if n == 0 then return "null" end
   local mean, squares = sum / n, 0
   for _, v in ipairs(values) do squares = squares + counts[v] * (v - mean) ^ 2 end
   local stdev = n > 1 and math.sqrt(squares / (n - 1)) or 0
   local function percentile(p)
      local rank, total = math.min(math.floor(p / 100 * n + 1), n), 0  -- wrk: round(p/100 * n + 0.5)
      for _, v in ipairs(values) do
         total = total + counts[v]
         if total >= rank then return v end
      end
      return max
   end
   return string.format(
      '{"mean":%.3f,"stdev":%.3f,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d,"samples":%d}',
      mean, stdev, max, percentile(50), percentile(75), percentile(90), percentile(99), percentile(99.9), n)
end

function done(summary, latency, requests)
   local e = summary.errors
   local measured, reported, interval = "null", "null", correction_interval(summary)
   -- wrk keeps only latencies up to --timeout; with none recorded its stats are not numbers.
   if summary.requests > 0 and latency.max > 0 then
      measured = describe(measured_histogram(latency, interval))
      reported = string.format(
         '{"mean":%.3f,"stdev":%.3f,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d}',
         latency.mean, latency.stdev, latency.max,
         latency:percentile(50), latency:percentile(75), latency:percentile(90),
         latency:percentile(99), latency:percentile(99.9))
   end
   io.write(string.format(
      'WRK_SUMMARY_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},'
         .. '"latency_us":%s,"latency_us_wrk":%s,"correction_us":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.timeout, e.status, measured, reported,
      interval and string.format("%d", interval) or "null"))
end
