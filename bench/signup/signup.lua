-- wrk script: a signup with a new address on every request, through the
-- JSON API (POST /api/subscriptions, the default) or, with
-- BENCH_TARGET=form, through the form visitors use (POST /subscribe, as a
-- browser posts it, the one newsletter's hidden field included).
-- Each wrk thread gets its own id so addresses never repeat across threads
-- or runs (the run prefix comes from the environment). `thread_id` must be
-- a global: `thread:set` in setup() writes the thread's globals, and a
-- local of the same name would hide it (every thread then sent the same
-- addresses, so half the load was repeated addresses).
local counter = 0
thread_id = 0
local run = os.getenv("BENCH_RUN") or "run"
local form = os.getenv("BENCH_TARGET") == "form"
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  if form then
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  else
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  counter = counter + 1
  if form then
    local body = string.format("email=form-%s-%d-%d%%40example.org&name=&newsletter=news&website=",
      run, thread_id, counter)
    return wrk.format("POST", "/subscribe", nil, body)
  end
  local body = string.format('{"email":"bench-%s-%d-%d@example.org"}', run, thread_id, counter)
  return wrk.format("POST", "/api/subscriptions", nil, body)
end

function response(status, headers, body)
  local expected = form and 200 or 202
  if status ~= expected then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
