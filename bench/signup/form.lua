-- wrk script: POST /subscribe, the form visitors use, with a new address on
-- every request, as a browser posts it (the one newsletter's hidden field
-- included). Threads and runs never repeat an address (see signup.lua).
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
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  counter = counter + 1
  local body = string.format("email=form-%s-%d-%d%%40example.org&name=&newsletter=news&website=",
    run, thread_id, counter)
  return wrk.format("POST", "/subscribe", nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
