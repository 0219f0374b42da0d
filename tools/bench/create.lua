-- wrk script: POST /api/servers/create with a distinct customer, nonce and name per request, so
-- every request is a new accepted workflow (quota and dedup never answer instead).
--   TOKEN=$(awk '$1=="portal"{print $2}' DATA/tokens) \
--     wrk -t2 -c64 -d20s -s tools/bench/create.lua http://127.0.0.1:8080
-- thread_id and run are set in each thread's own Lua state by setup(): globals, not locals.
local counter = 0
local threads = 0
local started = os.time()

function setup(thread)
  thread:set("thread_id", threads)
  thread:set("run", started)
  threads = threads + 1
end

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local id = string.format("r%d-t%d-%d", run, thread_id, counter)
  local body = string.format(
    '{"customerId":"c%s","ctype":"game","requestNonce":"n%s","game":"vanilla","plan":"small","name":"s%s"}',
    id, id, id)
  return wrk.format("POST", "/api/servers/create", nil, body)
end

function response(status, headers, body)
  if status ~= 202 then
    io.stderr:write("unexpected " .. status .. ": " .. body .. "\n")
  end
end
