-- bench/ngsild_wrk.lua: wrk script of `make bench-ngsild` (bench/ngsild.sh).
-- Usage: wrk ... -s bench/ngsild_wrk.lua URL -- MODE IDS_FILE
--   MODE get:   GET /ngsi-ld/v1/entities/{id}, expects 200
--   MODE patch: PATCH /ngsi-ld/v1/entities/{id}/attrs with {"NO2": {value, observedAt}},
--               expects 204; observedAt advances by 1 ms a request (2024-02-02 onwards), so
--               every PATCH appends a new point to the history
-- Each request takes the next id of IDS_FILE (one entity id a line); every thread starts at a
-- different place. Any other status is counted (first one kept with its body) and printed by
-- done() with the latency percentiles, as one line "NGSILD_WRK {json}".

local ids, n, pos, seq = {}, 0, 0, 0
-- globals, not locals: done() reads them from each thread with thread:get()
mode, expect = "get", 200
bad, bad_first = 0, ""
local threads = {}
local base_s = 1706832000 -- 2024-02-02T00:00:00Z

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   mode = args[1] or "get"
   expect = (mode == "patch") and 204 or 200
   local f = assert(io.open(args[2], "r"))
   for line in f:lines() do
      if #line > 0 then
         n = n + 1
         ids[n] = line
      end
   end
   f:close()
   assert(n > 0, "no ids in " .. args[2])
   pos = ((tid or 0) * 7919) % n
   seq = (tid or 0) * 100000000
end

function request()
   pos = pos % n + 1
   local id = ids[pos]
   if mode == "patch" then
      seq = seq + 1
      local ms = seq % 1000
      local t = base_s + (seq - ms) / 1000
      local body = string.format(
         '{"NO2":{"type":"Property","value":%d.%d,"observedAt":"%s.%03dZ"}}',
         5 + seq % 75, seq % 10, os.date("!%Y-%m-%dT%H:%M:%S", t), ms)
      return wrk.format("PATCH", "/ngsi-ld/v1/entities/" .. id .. "/attrs",
                        {["Content-Type"] = "application/json"}, body)
   end
   return wrk.format("GET", "/ngsi-ld/v1/entities/" .. id, nil, nil)
end

function response(status, headers, body)
   if status ~= expect then
      bad = bad + 1
      if bad_first == "" then
         bad_first = string.format("HTTP %d: %s", status, string.sub(body or "", 1, 200))
      end
   end
end

local function jstr(s)
   return '"' .. string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, requests)
   local nbad, first = 0, ""
   local m = threads[1] and threads[1]:get("mode") or mode
   for _, t in ipairs(threads) do
      nbad = nbad + (t:get("bad") or 0)
      local f = t:get("bad_first") or ""
      if first == "" then first = f end
   end
   local e = summary.errors
   io.write(string.format(
      'NGSILD_WRK {"mode":%s,"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.4f,' ..
      '"p90_ms":%.4f,"p99_ms":%.4f,"max_ms":%.4f,"unexpected_status":%d,"first_unexpected":%s,' ..
      '"socket_errors":%d}\n',
      jstr(m), summary.requests, summary.duration / 1e6,
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, nbad, jstr(first),
      e.connect + e.read + e.write + e.timeout))
end
