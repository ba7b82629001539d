-- wrk script: every request carries the bearer token; POST bodies are made per request.
--   wrk -s bench/load.lua URL -- TOKEN KIND PATH RUN [FILE]
--   wrk -s bench/load.lua URL -- TOKEN seq PATH RUN METHOD START [BODYFILE]
-- KIND: get (PATH as is), create (D1: a dataset of a new name), members (C5: add 1,000
-- new node IDs), freeze (V1: the body {}, a new version each request), file (a POST of the
-- body in FILE, the same every request: R2), seq (requests numbered n = START, START + 1, …:
-- each request of this thread takes the next number; METHOD is GET, POST, PATCH or DELETE; in
-- PATH and in the text of BODYFILE, if given, {n} is replaced by n and {run} by RUN with its
-- thread's suffix: D4, D5, C4, C6, one seeded row each). RUN keeps the names of one run apart
-- from every other run's. bench.py runs one thread (-t1): with more, the threads' numbers would
-- overlap.
-- At the end it prints one JSON line: requests, seconds, latency percentiles, errors.

local counter = 0
local token, kind, path, run, file_body, start
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  token, kind, path, run = args[1], args[2], args[3], args[4] .. "t" .. (thread_id or 0)
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
  if kind == "get" then
    wrk.method = "GET"
    wrk.body = nil
    wrk.headers["Content-Type"] = nil
  elseif kind == "seq" then
    wrk.method = args[5]
    start = tonumber(args[6])
    if args[7] then
      local f = assert(io.open(args[7], "rb"))
      file_body = f:read("*a")
      f:close()
    else
      wrk.body = nil
      wrk.headers["Content-Type"] = nil
    end
  else
    wrk.method = "POST"
  end
  if kind == "file" then
    local f = assert(io.open(args[5], "rb"))
    file_body = f:read("*a")
    f:close()
  end
end

local function members_body(n)
  local ids = {}
  for i = 1, 1000 do
    ids[i] = string.format('"node-%s-%d-%04d"', run, n, i)
  end
  return '{"add":[' .. table.concat(ids, ",") .. ']}'
end

-- {n} and {run} of a seq template (plain text: no pattern characters in what replaces them)
local function numbered(text, n)
  return (text:gsub("{n}", n):gsub("{run}", run))
end

function request()
  counter = counter + 1
  if kind == "create" then
    local body = string.format('{"name":"bench-%s-%d","description":"created by the benchmark",'
      .. '"tags":["bench","kind-1"],"metadata":{"run":"%s","n":%d}}', run, counter, run, counter)
    return wrk.format(nil, path, nil, body)
  elseif kind == "members" then
    return wrk.format(nil, path, nil, members_body(counter))
  elseif kind == "freeze" then
    return wrk.format(nil, path, nil, "{}")
  elseif kind == "file" then
    return wrk.format(nil, path, nil, file_body)
  elseif kind == "seq" then
    local n = tostring(start + counter - 1)
    return wrk.format(nil, numbered(path, n), nil, file_body and numbered(file_body, n))
  end
  return wrk.format(nil, path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"mean_ms":%.3f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.mean / 1e3, e.connect, e.read, e.write, e.status, e.timeout))
end
