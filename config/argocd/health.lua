-- Argo CD health check for zmq.topology.dev/ZMQTopology (zmq-operator).
-- Install it in argocd-cm as resource.customizations.health.zmq.topology.dev_ZMQTopology
-- (see the README). Argo CD runs it with gopher-lua; `obj` is the object.
--
--   Suspended    spec.paused is true: the operator changes no child.
--   Progressing  the status does not describe metadata.generation yet, or
--                the topology is rolling out / waiting for components or
--                links (Ready=False for any other reason).
--   Degraded     Stalled=True or Degraded=True at the current generation:
--                InvalidSpec, ApplyFailed, LinkDown (a link's connections
--                down while its components are ready), ReplicasUnavailable,
--                InternalError. The message is the condition's.
--   Healthy      Ready=True at the current generation.
local hs = {}

local function condition(conditions, ctype)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

-- current: the condition describes the spec Argo CD just applied. A
-- condition without observedGeneration falls back to status's.
local function current(c, generation, observed)
  local g = c.observedGeneration
  if g == nil then
    g = observed
  end
  return g == generation
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end

local generation = obj.metadata.generation or 0

if obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  hs.message = "spec.paused is true: the operator does not change the topology's children"
  return hs
end

if obj.status == nil or obj.status.observedGeneration == nil or obj.status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. generation
  return hs
end

local observed = obj.status.observedGeneration
local conditions = obj.status.conditions

for _, ctype in ipairs({"Stalled", "Degraded"}) do
  local c = condition(conditions, ctype)
  if c ~= nil and c.status == "True" and current(c, generation, observed) then
    hs.status = "Degraded"
    hs.message = describe(c)
    return hs
  end
end

local ready = condition(conditions, "Ready")
if ready == nil or not current(ready, generation, observed) then
  hs.status = "Progressing"
  hs.message = "waiting for the Ready condition of generation " .. generation
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
hs.status = "Progressing"
hs.message = describe(ready)
return hs
