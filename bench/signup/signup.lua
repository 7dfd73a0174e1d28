-- wrk script: POST /api/subscriptions with a new address on every request.
-- Each wrk thread gets its own id so addresses never repeat across threads
-- or runs (the run prefix comes from the environment). `thread_id` must be
-- a global: `thread:set` in setup() writes the thread's globals, and a
-- local of the same name would hide it (every thread then sent the same
-- addresses, so half the load was repeated addresses).
local counter = 0
thread_id = 0
local run = os.getenv("BENCH_RUN") or "run"
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format('{"email":"bench-%s-%d-%d@example.org"}', run, thread_id, counter)
  return wrk.format("POST", "/api/subscriptions", nil, body)
end

function response(status, headers, body)
  if status ~= 202 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
