-- wrk script of bench/intake_load.py (which runs it; see there): counts the answers by status
-- and, in "post" mode, sends the public form as a new person each time.
--
--   wrk -t2 -c16 -d10s --latency -s bench/intake_post.lua http://127.0.0.1:PORT/apply/SLUG/ -- \
--       MODE RUN_ID COOKIE FIXED PEOPLE PHONES EXTRAS SEED TOKENS
--
-- MODE "post": a POST of the form; "get": the URL as it is (only the statuses are counted).
-- FIXED is the urlencoded part every POST carries (CSRF token, honeypot, consent). PEOPLE,
-- PHONES and EXTRAS are urlencoded fragments separated by ";" (a person may appear several
-- times: that is the weighting); SEED seeds this run's random choices. TOKENS is the prefix of
-- one file per thread (TOKENS<thread>.txt, thread 1 and 2) of signed, urlencoded start times:
-- a served form can be sent once, so each POST takes the next one (should they run out, they
-- are used again and answered 400; done() counts those as "exhausted").
-- Every POST has a unique email (run, thread, counter) and an X-Forwarded-For address of its
-- own in 2001:db8::/32 (documentation range): the server trusts 127.0.0.1 as its proxy, so each
-- request is another person for the per-address rate limit.
-- done() prints one line: "INTAKE_STATUS requests=... s302=... s4xx=... s5xx=... exhausted=...".

local threads = {}
local next_id = 1

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local function split(value, sep)
   local parts = {}
   for part in string.gmatch(value or "", "([^" .. sep .. "]+)") do
      table.insert(parts, part)
   end
   return parts
end

function init(args)
   mode = args[1] or "get"
   run_id = args[2] or "run"
   counter = 0
   s2xx, s302, s3xx, s4xx, s429, s403, s5xx, sother, exhausted = 0, 0, 0, 0, 0, 0, 0, 0, 0
   math.randomseed((tonumber(args[8]) or os.time()) + (id or 0) * 7919)
   if mode ~= "post" then
      static_request = wrk.format()
      return
   end
   fixed = args[4]
   people = split(args[5], ";")
   phones = split(args[6], ";")
   extras = split(args[7], ";")
   tokens = {}
   for line in io.lines(args[9] .. id .. ".txt") do
      tokens[#tokens + 1] = line
   end
   headers = {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Cookie"] = "csrftoken=" .. args[3],
      ["Referer"] = "http://" .. wrk.host .. ":" .. wrk.port .. wrk.path,
   }
end

local function forwarded_for()
   return string.format("2001:db8:%x:%x:%x:%x:%x:%x", math.random(0, 65535), math.random(0, 65535),
      math.random(0, 65535), math.random(0, 65535), math.random(0, 65535), math.random(0, 65535))
end

local function phone()
   local roll = math.random()
   if roll < 0.4 then
      return ""  -- many leave it empty
   elseif roll < 0.55 then
      return "&phone=" .. phones[math.random(#phones)]  -- a household or office number, shared
   end
   -- +1 NPA 555 XXXX: the fictional exchange
   return string.format("&phone=%%2B1+%d+555+%04d", ({ 212, 312, 415, 512, 617, 720 })[math.random(6)],
      math.random(0, 9999))
end

function request()
   if mode ~= "post" then
      return static_request
   end
   counter = counter + 1
   local token = tokens[counter]
   if token == nil then
      exhausted = exhausted + 1
      token = tokens[(counter - 1) % #tokens + 1]
   end
   headers["X-Forwarded-For"] = forwarded_for()
   local body = fixed .. "&started=" .. token .. "&email=wrk-" .. run_id .. "-t" .. id .. "-" .. counter
      .. "%40example.net&" .. people[math.random(#people)] .. phone() .. "&" .. extras[math.random(#extras)]
   return wrk.format("POST", wrk.path, headers, body)
end

function response(status, headers, body)
   if status == 302 then
      s302 = s302 + 1
   elseif status >= 200 and status < 300 then
      s2xx = s2xx + 1
   elseif status >= 300 and status < 400 then
      s3xx = s3xx + 1
   elseif status == 429 then
      s429 = s429 + 1
   elseif status == 403 then
      s403 = s403 + 1
   elseif status >= 400 and status < 500 then
      s4xx = s4xx + 1
   elseif status >= 500 and status < 600 then
      s5xx = s5xx + 1
   else
      sother = sother + 1
   end
end

function done(summary, latency, requests)
   local names = { "s2xx", "s302", "s3xx", "s403", "s429", "s4xx", "s5xx", "sother", "exhausted" }
   local totals = {}
   for _, name in ipairs(names) do
      totals[name] = 0
   end
   for _, thread in ipairs(threads) do
      for _, name in ipairs(names) do
         totals[name] = totals[name] + (tonumber(thread:get(name)) or 0)
      end
   end
   local e = summary.errors
   io.write(string.format(
      "INTAKE_STATUS requests=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d timeout=%d",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.connect, e.read, e.write, e.timeout))
   for _, name in ipairs(names) do
      io.write(string.format(" %s=%d", name, totals[name]))
   end
   io.write("\n")
end
