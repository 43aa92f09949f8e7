-- wrk script for bench/landing.py: rotate over many paths, count non-2xx, print one JSON line.
--
--   LANDING_WRK_PATHS=/tmp/paths.txt wrk -t2 -c32 -d15s --latency -s bench/landing_wrk.lua http://127.0.0.1:PORT
--
-- * LANDING_WRK_PATHS (optional): a file of request paths, one a line ("/p/slug?t=TOKEN"). Each
--   request takes the next path; each wrk thread starts at a different point of the list, so all
--   connections together walk the whole list over and over. Without it, every request goes to
--   the URL given on the command line (wrk's static request: no per-request Lua call).
-- * Every response whose status is not 2xx is counted (a 3xx too), with the last such status.
-- * done() prints one line "WRK_JSON {...}": requests, seconds, requests_per_s, p50/p90/p99/max
--   and mean latency in milliseconds (wrk's exact histogram, as --latency reports), non2xx,
--   last_bad_status, wrk's socket errors (connect, read, write, timeout) and, with a paths file,
--   distinct_paths: how many different paths were answered (each thread's first `answered`
--   steps from its starting point; requests still in flight at the end are not counted).

local paths = {}
local file = os.getenv("LANDING_WRK_PATHS")
if file and file ~= "" then
   for line in io.lines(file) do
      if line ~= "" then paths[#paths + 1] = line end
   end
end

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   non2xx = 0
   last_bad_status = 0
   answered = 0
   if #paths > 0 then
      -- 0.618…: thread k starts a golden-ratio share of the list further on than thread k-1
      start = math.floor((tid or 0) * #paths * 0.6180339887) % #paths
      index = start
   end
end

if #paths > 0 then
   function request()
      index = index % #paths + 1
      return wrk.format(nil, paths[index])
   end
end

function response(status, headers, body)
   answered = answered + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      last_bad_status = status
   end
end

function done(summary, latency, requests)
   local bad, last, seen, distinct = 0, 0, {}, 0
   for _, thread in ipairs(threads) do
      bad = bad + (thread:get("non2xx") or 0)
      local status = thread:get("last_bad_status") or 0
      if status ~= 0 then last = status end
      if #paths > 0 then
         local first = thread:get("start") or 0
         for step = 1, math.min(thread:get("answered") or 0, #paths) do
            local i = (first + step - 1) % #paths
            if not seen[i] then seen[i] = true; distinct = distinct + 1 end
         end
      end
   end
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "seconds": %.3f, "requests_per_s": %.1f, '
      .. '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f, '
      .. '"non2xx": %d, "last_bad_status": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "timeouts": %d, "status_errors": %d, "paths": %d, "distinct_paths": %d}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, latency.mean / 1000,
      bad, last, e.connect, e.read, e.write, e.timeout, e.status, #paths, distinct))
end
