-- wrk script of benchmarks/collect.py: every request posts events no other request
-- has posted, and every answer is counted, so that the run can be checked against
-- what InfluxDB holds afterwards.
--
--   wrk -t 1 -c 32 -d 12s -s collect.lua URL -- PATH BATCH PREFIX POST_FOR_MS
--
-- PATH    the path and query posted to, for example /events?key=...
-- BATCH   events per request: 1 posts one JSON object, more post an array
-- PREFIX  makes the event ids of this run unique: PREFIX-THREAD-N
-- POST_FOR_MS  how long to post events, in milliseconds
--
-- Why the run ends itself: wrk stops at -d by closing its connections, abandoning
-- the requests in flight, which the server may still have answered 202 and stored.
-- Their events would be stored but never counted. So after POST_FOR_MS this script
-- sends only GET PATH (405 from a POST-only route, no event), and once every event
-- request has had its answer it stops its thread; -d is only the upper bound.
-- The rates are taken over this script's own window, from its first request to the
-- last answer to an event request, measured with the monotonic clock.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } journeys_timespec;
int clock_gettime(int clock_id, journeys_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("journeys_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  path = args[1]
  batch = tonumber(args[2])
  prefix = args[3]
  post_for = tonumber(args[4])

  sent = 0          -- event requests sent
  answered = 0      -- event requests answered, whatever the status
  events_sent = 0
  events_202 = 0    -- events in requests answered 202
  accepted = 0      -- the sum of "accepted" in the 202 answers' bodies
  statuses = {}
  started = nil
  deadline = nil
  last_answer = nil
  headers = { ["Content-Type"] = "application/json" }
  tail = wrk.format("GET", path)
  -- wrk calls request() once in the first thread before the run, to check the
  -- script, and never sends that request: it must not count.
  checking = thread_number == 1
end

local DEVICES = { "desktop", "mobile", "tablet", "tv" }
local EVENT = '{"event_type":"pageview","event_id":"%s-%d-%d","user_id":"user-%d",'
  .. '"device_type":"%s","page_url":"https://example.com/movies/%d","scroll_depth":%d}'

local function event()
  events_sent = events_sent + 1
  local n = events_sent
  return string.format(EVENT, prefix, thread_number, n, n % 997, DEVICES[n % 4 + 1],
    n % 211, n % 101)
end

function request()
  if checking then
    checking = false
    return wrk.format("POST", path, headers, "{}")
  end

  local now = now_ms()
  if started == nil then
    started = now
    deadline = now + post_for
  end
  if now >= deadline then
    return tail
  end

  local body
  if batch == 1 then
    body = event()
  else
    local events = {}
    for i = 1, batch do
      events[i] = event()
    end
    body = "[" .. table.concat(events, ",") .. "]"
  end
  sent = sent + 1
  return wrk.format("POST", path, headers, body)
end

function response(status, _, body)
  if status ~= 405 then
    answered = answered + 1
    last_answer = now_ms()
    statuses[status] = (statuses[status] or 0) + 1
    if status == 202 then
      events_202 = events_202 + batch
      local count = string.match(body, '"accepted"%s*:%s*(%d+)')
      accepted = accepted + (tonumber(count) or 0)
    end
  end
  if answered == sent and now_ms() >= deadline then
    wrk.thread:stop()
  end
end

-- One line for benchmarks/collect.py: JOURNEYS_WRK followed by a JSON object.
function done(summary, latency, _)
  local totals = { sent = 0, answered = 0, events_sent = 0, events_202 = 0, accepted = 0 }
  local all_statuses = {}
  local window = 0
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + thread:get(key)
    end
    for status, count in pairs(thread:get("statuses")) do
      all_statuses[status] = (all_statuses[status] or 0) + count
    end
    local first, last = thread:get("started"), thread:get("last_answer")
    if first and last and last - first > window then
      window = last - first
    end
  end

  local parts = {}
  for key, value in pairs(totals) do
    table.insert(parts, string.format('"%s":%d', key, value))
  end
  local status_parts = {}
  for status, count in pairs(all_statuses) do
    table.insert(status_parts, string.format('"%d":%d', status, count))
  end
  table.insert(parts, '"statuses":{' .. table.concat(status_parts, ",") .. "}")
  table.insert(parts, string.format('"window_ms":%.3f', window))
  table.insert(parts, string.format('"p50_us":%d,"p99_us":%d',
    latency:percentile(50), latency:percentile(99)))
  local errors = summary.errors
  table.insert(parts, string.format(
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}',
    errors.connect, errors.read, errors.write, errors.timeout))
  io.write("JOURNEYS_WRK {" .. table.concat(parts, ",") .. "}\n")
end
