package limits

import "github.com/redis/go-redis/v9"

// Times in the scripts are unix microseconds: Lua numbers are doubles,
// exact to 2^53, and nanoseconds since 1970 are not. Values are written
// with string.format('%.0f') or '%.17g', since Redis would turn a bare Lua
// number into a string with 14 digits only, and integers are what a
// script returns, so durations come back rounded up to whole microseconds.

// admitScript checks every limit of one request and, when all allow, takes
// its share of each; nothing is taken from a refused request.
//
// KEYS: rpm TAT, tpm TAT, concurrency set, budget hash.
// ARGV: now, rpm, tpm, tokens, max_concurrency, ticket id, lease (µs),
// budget, cost, budget expiry (seconds from now; 0: never), seed (spent so far
// when the budget hash does not exist yet).
// Returns: allowed (0/1), refused limits ("requests tokens concurrency
// budget", space separated), rate wait (µs), rpm remaining, rpm reset (µs),
// tpm remaining, tpm reset (µs).
var admitScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local maxc = tonumber(ARGV[5])
local lease = tonumber(ARGV[7])
local budget = tonumber(ARGV[8])
local bexp = tonumber(ARGV[10])
local window = 60000000

local function tat_of(key)
  local v = redis.call('GET', key)
  if v then return math.max(tonumber(v), now) end
  return now
end

-- GCRA: the TAT after taking c units (nil when they do not fit) and the wait.
local function take(tat, n, c)
  local t = window / n
  local over = tat - now + math.min(c, n) * t - window
  if over > 0 then return nil, math.ceil(over) end
  return tat + c * t, 0
end

local function remaining(tat, n)
  local left = math.floor((window - (tat - now)) * n / window + 1e-9)
  return math.max(0, math.min(left, n))
end

local refused = {}
local wait = 0
local rtat, rnext, ttat, tnext = now, now, now, now
if rpm > 0 then
  rtat = tat_of(KEYS[1])
  local w
  rnext, w = take(rtat, rpm, 1)
  if not rnext then table.insert(refused, 'requests'); wait = math.max(wait, w) end
end
if tpm > 0 then
  ttat = tat_of(KEYS[2])
  local w
  tnext, w = take(ttat, tpm, tokens)
  if not tnext then table.insert(refused, 'tokens'); wait = math.max(wait, w) end
end
if maxc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= maxc then table.insert(refused, 'concurrency') end
end
if budget > 0 then
  if redis.call('EXISTS', KEYS[4]) == 0 then
    redis.call('HSET', KEYS[4], 'spent', ARGV[11], 'reserved', '0')
    if bexp > 0 then redis.call('EXPIRE', KEYS[4], bexp) end
  end
  local h = redis.call('HMGET', KEYS[4], 'spent', 'reserved')
  if (tonumber(h[1]) or 0) + (tonumber(h[2]) or 0) >= budget then table.insert(refused, 'budget') end
end

if #refused > 0 then
  return {0, table.concat(refused, ' '), wait, remaining(rtat, math.max(rpm, 1)), rtat - now, remaining(ttat, math.max(tpm, 1)), ttat - now}
end

if rpm > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f', rnext), 'PX', math.max(1, math.ceil((rnext - now) / 1000)))
end
if tpm > 0 and tnext > now then
  redis.call('SET', KEYS[2], string.format('%.0f', tnext), 'PX', math.max(1, math.ceil((tnext - now) / 1000)))
end
if maxc > 0 then
  redis.call('ZADD', KEYS[3], now + lease, ARGV[6])
  redis.call('PEXPIRE', KEYS[3], math.max(1, math.ceil(lease / 1000)))
end
if budget > 0 and tonumber(ARGV[9]) > 0 then
  redis.call('HINCRBYFLOAT', KEYS[4], 'reserved', ARGV[9])
end
return {1, '', 0, remaining(rnext, math.max(rpm, 1)), math.ceil(rnext - now), remaining(tnext, math.max(tpm, 1)), math.ceil(tnext - now)}
`)

// settleScript ends one ticket: corrects its token charge, frees its
// concurrency slot, releases its reservation and adds its real cost.
//
// KEYS: tpm TAT, concurrency set, budget hash of the ticket's period.
// ARGV: now, tpm, token delta (actual - estimate), ticket id ("" with no
// concurrency limit), reserved, cost.
var settleScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local delta = tonumber(ARGV[3])
if tpm > 0 and delta ~= 0 then
  local tat = now
  local v = redis.call('GET', KEYS[1])
  if v then tat = math.max(tonumber(v), now) end
  tat = tat + delta * 60000000 / tpm
  if tat > now then
    redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.max(1, math.ceil((tat - now) / 1000)))
  else
    redis.call('DEL', KEYS[1])
  end
end
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[2], ARGV[4]) end
local reserved = tonumber(ARGV[5])
local cost = tonumber(ARGV[6])
-- A hash that is gone belongs to a period that ended: nothing to settle.
if (reserved > 0 or cost > 0) and redis.call('EXISTS', KEYS[3]) == 1 then
  local left = (tonumber(redis.call('HGET', KEYS[3], 'reserved')) or 0) - reserved
  if left < 1e-12 then left = 0 end
  redis.call('HSET', KEYS[3], 'reserved', string.format('%.17g', left))
  if cost > 0 then redis.call('HINCRBYFLOAT', KEYS[3], 'spent', ARGV[6]) end
end
return 1
`)
