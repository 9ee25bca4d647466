"""The per-call Lua scripts of the pool (``scaleout.md`` §4), each atomic on one slot.

``TAKE`` makes the caller the call's owner (the fencing epoch), ``PUBLISH`` appends
finals and moves the acknowledgement point (the trim of the call's audio), ``FINISH``
ends the call. Every script but ``TAKE`` first checks the epoch: a worker that was
paused and lost the call to another is refused (``FENCED``) and drops it.
"""

from __future__ import annotations

__all__ = ["FENCED", "FINISH", "PUBLISH", "TAKE"]

#: what PUBLISH and FINISH return to a worker whose epoch is not the call's any more
FENCED = -1

#: KEYS: ledger. ARGV: the worker's name. Returns {epoch, field, value, ...} after
#: ``HINCRBY epoch 1``; notes the owner and ``taken_at`` (Redis' clock, ms).
TAKE = """
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
local now = redis.call('TIME')
redis.call('HSET', KEYS[1], 'owner', ARGV[1],
  'taken_at', string.format('%d', now[1] * 1000 + math.floor(now[2] / 1000)))
local all = redis.call('HGETALL', KEYS[1])
table.insert(all, 1, epoch)
return all
"""

#: KEYS: ledger, transcript, audio. ARGV: epoch, acked_frames, acked_ms, n, then per final
#: ch, start_ms, end_ms, text, worker. Returns the finals appended (finals whose end is
#: not past the channel's last published end are already there: skipped) or FENCED.
#: Transcript IDs are ``<end_ms>-<seq>``, strictly increasing: with two channels a final
#: ending before the other channel's last one takes the next sequence number.
PUBLISH = """
local led = KEYS[1]
if redis.call('HGET', led, 'epoch') ~= ARGV[1] then return -1 end
local n = tonumber(ARGV[4])
local added = 0
local tms = tonumber(redis.call('HGET', led, 'tid_ms') or '0')
local tseq = tonumber(redis.call('HGET', led, 'tid_seq') or '0')
for i = 0, n - 1 do
  local b = 5 + i * 5
  local ch = ARGV[b]
  local e = tonumber(ARGV[b + 2])
  local hw = tonumber(redis.call('HGET', led, 'p' .. ch) or '-1')
  if e > hw then
    if e > tms then
      tms = e
      tseq = 0
    else
      tseq = tseq + 1
    end
    redis.call('XADD', KEYS[2], string.format('%d-%d', tms, tseq),
      'ch', ch, 'start_ms', ARGV[b + 1], 'end_ms', ARGV[b + 2], 'text', ARGV[b + 3],
      'epoch', ARGV[1], 'worker', ARGV[b + 4])
    redis.call('HSET', led, 'p' .. ch, e)
    added = added + 1
  end
end
if added > 0 then
  redis.call('HSET', led, 'tid_ms', string.format('%d', tms), 'tid_seq', tseq)
end
local af = tonumber(ARGV[2])
if af > tonumber(redis.call('HGET', led, 'acked_frames') or '0') then
  redis.call('HSET', led, 'acked_frames', ARGV[2], 'acked_ms', ARGV[3])
  redis.call('XTRIM', KEYS[3], 'MINID', string.format('%d', tonumber(ARGV[3]) + 1))
end
return added
"""

#: KEYS: ledger, transcript, audio, ctl. ARGV: epoch, ctl entry id, ttl seconds, group.
#: Acknowledges the control entry, deletes the audio, keeps ledger and transcript for
#: ``ttl`` seconds. Returns 1 or FENCED.
FINISH = """
local led = KEYS[1]
if redis.call('HGET', led, 'epoch') ~= ARGV[1] then return -1 end
redis.call('XACK', KEYS[4], ARGV[4], ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('HSET', led, 'done', '1')
redis.call('EXPIRE', led, ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""
