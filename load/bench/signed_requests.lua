-- wrk script: replays pre-generated, pre-signed requests (wrk's Lua has no md5).
-- Arguments after `--`: the request file (`path?query<TAB>body` per line) and the number of
-- wrk threads; thread k takes lines k, k+n, k+2n… so no two threads send the same code.
-- `done` prints one JSON line that load/bench/wiremock.py reads.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local requests = {}
local count = 0
local next_index = 0

function init(args)
  local threads = tonumber(args[2])
  local line_no = 0
  local headers = { ["Content-Type"] = "text/xml;charset=utf-8" }
  for line in io.lines(args[1]) do
    if line_no % threads == id then
      local tab = line:find("\t", 1, true)
      count = count + 1
      requests[count] = wrk.format("POST", line:sub(1, tab - 1), headers, line:sub(tab + 1))
    end
    line_no = line_no + 1
  end
end

function request()
  next_index = next_index % count + 1
  return requests[next_index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors_status": %d, "errors_connect": %d, '
      .. '"errors_read": %d, "errors_write": %d, "errors_timeout": %d, '
      .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
