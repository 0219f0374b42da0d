-- wrk script: GET /api/workflows/{id} of one workflow (admin token).
--   TOKEN=$(awk '$1=="admin"{print $2}' DATA/tokens) WORKFLOW=01M... \
--     wrk -t2 -c64 -d20s -s tools/bench/get_workflow.lua http://127.0.0.1:8080
function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
  wrk.path = "/api/workflows/" .. os.getenv("WORKFLOW")
end
