-- wrk script: POST /api/v1/recipes, one ingredient row each, with a name
-- unique across threads and runs. Arguments (after `--`): a run label and
-- the bearer token.
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  counter = 0
  run = args[1] or "r"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"name":"Bench %s-%d-%d","instructions":"Shake with ice.","source":"bench",' ..
    '"ingredients":[{"ingredient_id":1,"unit_id":1,"amount":2}]}', run, tid, counter)
  return wrk.format(nil, "/api/v1/recipes", nil, body)
end
