-- wrk script: each request registers 100 new VINs (valid check digits) in one event.
-- Threads get their own plant letter (position 11) so their VINs never collide.
local plants = {"A", "B", "C", "D", "E", "F", "G", "H"}
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("plant", plants[threads])
end

local values = {A=1,B=2,C=3,D=4,E=5,F=6,G=7,H=8,J=1,K=2,L=3,M=4,N=5,P=7,R=9,S=2,T=3,U=4,V=5,W=6,X=7,Y=8,Z=9}
local weights = {8,7,6,5,4,3,2,10,0,9,8,7,6,5,4,3,2}

local function vin(serial)
  local body = "LS5A2GCA0T" .. plant .. string.format("%06d", serial)
  local sum = 0
  for i = 1, 17 do
    local c = body:sub(i, i)
    local v = tonumber(c) or values[c]
    sum = sum + v * weights[i]
  end
  local r = sum % 11
  local check = (r == 10) and "X" or tostring(r)
  return body:sub(1, 8) .. check .. body:sub(10)
end

request = function()
  local vins = {}
  for i = 1, 100 do
    counter = counter + 1
    vins[i] = '"' .. vin(counter) .. '"'
  end
  local body = '{"step":"register","vins":[' .. table.concat(vins, ",") .. ']}'
  return wrk.format("POST", "/api/v1/events", {["content-type"] = "application/json",
    ["authorization"] = "Bearer " .. token}, body)
end

function init(args)
  token = args[1]
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
