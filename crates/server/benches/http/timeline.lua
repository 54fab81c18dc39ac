-- wrk script: the full timeline of one VIN, as the exporter that owns it.
function init(args)
  token = args[1]
  path = "/api/v1/vehicles/" .. args[2] .. "/timeline"
end

request = function()
  return wrk.format("GET", path, {["authorization"] = "Bearer " .. token})
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
