"""Reference schedules for the Heun, DPM-Solver multistep, UniPC and
flow-match Euler schedulers of package schedulers.

The set_timesteps formulas of diffusers, restated with numpy (torch float32
tensor arithmetic emulated with numpy float32, torch's CPU cumprod with a
float64 accumulator) and scipy.stats.beta.ppf for the beta schedule. Run
with python3 (numpy, scipy) from this folder:

    python3 gen_part2_refs.py > part2_refs.json
"""
import json
import math

import numpy as np
import scipy.stats

F32 = np.float32


def betas(c):
    n = c.get("num_train_timesteps", 1000)
    sched = c.get("beta_schedule", "linear")
    if sched == "linear":
        return np.linspace(c["beta_start"], c["beta_end"], n).astype(F32)
    if sched == "scaled_linear":
        b = np.linspace(c["beta_start"] ** 0.5, c["beta_end"] ** 0.5, n).astype(F32)
        return (b * b).astype(F32)
    if sched == "squaredcos_cap_v2":
        f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return np.array([min(1 - f((i + 1) / n) / f(i / n), 0.999) for i in range(n)], dtype=F32)
    raise ValueError(sched)


def alphas_cumprod(c):
    a = (F32(1) - betas(c)).astype(F32)
    return np.cumprod(a.astype(np.float64)).astype(F32)


def train_sigmas(ac):
    return np.sqrt(((F32(1) - ac) / ac).astype(F32)).astype(F32)


def sigma_to_t(sigma, log_sigmas):
    # numpy >= 2 (NEP 50) promotes the float32 table against the float64
    # log_sigma scalar to float64; numpy 1.x's value-based casting kept
    # float32 and can round the top timestep differently (999 vs 998.99...).
    # Emulate numpy 2 whatever numpy runs this.
    log_sigmas = np.asarray(log_sigmas).astype(np.float64)
    log_sigma = np.log(np.maximum(sigma, 1e-10))
    dists = log_sigma - log_sigmas[:, np.newaxis]
    low_idx = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
    high_idx = low_idx + 1
    low, high = log_sigmas[low_idx], log_sigmas[high_idx]
    w = np.clip((low - log_sigma) / (low - high), 0, 1)
    return ((1 - w) * low_idx + w * high_idx).reshape(np.shape(sigma))


def karras(smin, smax, n):
    ramp = np.linspace(0, 1, n)
    lo, hi = smin ** (1 / 7.0), smax ** (1 / 7.0)
    return (hi + ramp * (lo - hi)) ** 7.0


def exponential(smin, smax, n):
    return np.exp(np.linspace(math.log(smax), math.log(smin), n))


def beta_sig(smin, smax, n):
    return np.array([smin + p * (smax - smin) for p in
                     [scipy.stats.beta.ppf(t, 0.6, 0.6) for t in 1 - np.linspace(0, 1, n)]])


def convert(c, smin, smax, n):
    if c.get("use_karras_sigmas"):
        return karras(smin, smax, n)
    if c.get("use_exponential_sigmas"):
        return exponential(smin, smax, n)
    return beta_sig(smin, smax, n)


def any_conv(c):
    return c.get("use_karras_sigmas") or c.get("use_exponential_sigmas") or c.get("use_beta_sigmas")


def spacing_multistep(c, n, last):
    N = c.get("num_train_timesteps", 1000)
    sp = c.get("timestep_spacing", "linspace")
    if sp == "linspace":
        return np.linspace(0, last - 1, n + 1).round()[::-1][:-1].copy().astype(np.int64)
    if sp == "leading":
        r = last // (n + 1)
        return (np.arange(0, n + 1) * r).round()[::-1][:-1].copy().astype(np.int64) + c.get("steps_offset", 0)
    return np.arange(last, 0, -N / n).round().copy().astype(np.int64) - 1


def dpm(c, n, mu=None):
    N = c.get("num_train_timesteps", 1000)
    flow_shift = c.get("flow_shift", 1.0)
    if mu is not None:
        flow_shift = np.exp(mu)
    ac = alphas_cumprod(c)
    if c.get("rescale_betas_zero_snr"):
        raise ValueError("not covered")
    at = np.sqrt(ac).astype(F32)
    st = np.sqrt((F32(1) - ac).astype(F32)).astype(F32)
    lam = (np.log(at) - np.log(st)).astype(F32)
    lmc = c.get("lambda_min_clipped", -math.inf)
    clipped = int(np.searchsorted(lam[::-1], lmc))
    last = N - clipped
    ts = spacing_multistep(c, n, last)
    sig = train_sigmas(ac)
    log_sig = np.log(sig)
    rnd = c.get("beta_schedule", "linear") != "squaredcos_cap_v2"
    if c.get("use_karras_sigmas"):
        s = np.flip(sig).copy()
        s = karras(s[-1].item(), s[0].item(), n)
        ts = np.array([sigma_to_t(x, log_sig) for x in s])
        if rnd:
            ts = ts.round()
    elif c.get("use_lu_lambdas"):
        lams = np.flip(log_sig.copy())
        lmin, lmax = lams[-1].item(), lams[0].item()
        ramp = np.linspace(0, 1, n)
        lams = lmax + ramp * (lmin - lmax)
        s = np.exp(lams)
        ts = np.array([sigma_to_t(x, log_sig) for x in s])
        if rnd:
            ts = ts.round()
    elif c.get("use_exponential_sigmas") or c.get("use_beta_sigmas"):
        s = np.flip(sig).copy()
        s = convert(c, s[-1].item(), s[0].item(), n)
        ts = np.array([sigma_to_t(x, log_sig) for x in s])
    elif c.get("use_flow_sigmas"):
        alphas = np.linspace(1, 1 / N, n + 1)
        s = 1.0 - alphas
        s = np.flip(flow_shift * s / (1 + (flow_shift - 1) * s))[:-1].copy()
        ts = (s * N).copy()
    else:
        s = np.interp(ts, np.arange(0, len(sig)), sig)
    if c.get("final_sigmas_type", "zero") == "sigma_min":
        last_s = sig[0].item()
    else:
        last_s = 0
    s = np.concatenate([s, [last_s]]).astype(F32)
    return ts.astype(np.int64), s


def time_shift(c, mu, t):
    if c.get("time_shift_type", "exponential") == "exponential":
        return math.exp(mu) / (math.exp(mu) + (1 / t - 1))
    return mu / (mu + (1 / t - 1))


def stretch(c, t):
    omz = 1 - t
    sf = omz[-1] / (1 - c["shift_terminal"])
    return 1 - omz / sf


def unipc(c, n, mu=None, sigmas=None):
    N = c.get("num_train_timesteps", 1000)
    if sigmas is not None:
        n = len(sigmas)
    ac = alphas_cumprod(c)
    ts = spacing_multistep(c, n, N)
    fst = c.get("final_sigmas_type", "zero")
    if any_conv(c):
        if sigmas is None:
            sigmas = train_sigmas(ac)
        log_sig = np.log(sigmas)
        s = np.flip(sigmas).copy()
        smin = c.get("sigma_min") if c.get("sigma_min") is not None else s[-1].item()
        smax = c.get("sigma_max") if c.get("sigma_max") is not None else s[0].item()
        s = convert(c, smin, smax, n)
        if c.get("use_karras_sigmas") and c.get("use_flow_sigmas"):
            s = s / (s + 1)
            ts = (s * N).copy()
        elif c.get("use_karras_sigmas"):
            ts = np.array([sigma_to_t(x, log_sig) for x in s]).round()
        else:
            ts = np.array([sigma_to_t(x, log_sig) for x in s])
        last_s = s[-1] if fst == "sigma_min" else 0
    elif c.get("use_flow_sigmas"):
        if sigmas is None:
            sigmas = np.linspace(1, 1 / N, n + 1)[:-1]
        sigmas = np.array(sigmas, dtype=np.float64)
        if c.get("use_dynamic_shifting"):
            s = time_shift(c, mu, sigmas)
        else:
            fs = c.get("flow_shift", 1.0)
            s = fs * sigmas / (1 + (fs - 1) * sigmas)
        if c.get("shift_terminal"):
            s = stretch(c, s)
        if np.fabs(s[0] - 1) < 1e-6:
            s[0] -= 1e-6
        ts = (s * N).copy()
        last_s = s[-1] if fst == "sigma_min" else 0
    else:
        sig = train_sigmas(ac)
        s = np.interp(ts, np.arange(0, len(sig)), sig)
        last_s = sig[0].item() if fst == "sigma_min" else 0
    s = np.concatenate([s, [last_s]]).astype(F32)
    return ts.astype(np.int64), s


def heun(c, n):
    N = c.get("num_train_timesteps", 1000)
    sp = c.get("timestep_spacing", "linspace")
    if sp == "linspace":
        ts = np.linspace(0, N - 1, n, dtype=F32)[::-1].copy()
    elif sp == "leading":
        r = N // n
        ts = (np.arange(0, n) * r).round()[::-1].copy().astype(F32) + c.get("steps_offset", 0)
    else:
        ts = np.arange(N, 0, -N / n).round().copy().astype(F32) - 1
    sig = train_sigmas(alphas_cumprod(c))
    log_sig = np.log(sig)
    s = np.interp(ts, np.arange(0, len(sig)), sig)
    if any_conv(c):
        s = convert(c, s[-1].item(), s[0].item(), n)
        ts = np.array([sigma_to_t(x, log_sig) for x in s])
    s = np.concatenate([s, [0.0]]).astype(F32)
    s = np.concatenate([s[:1], np.repeat(s[1:-1], 2), s[-1:]])
    ts = ts.astype(F32)
    ts = np.concatenate([ts[:1], np.repeat(ts[1:], 2)])
    return ts, s


def flowmatch(c, n, mu=None, sigmas=None):
    N = c.get("num_train_timesteps", 1000)
    shift = c.get("shift", 1.0)
    t0 = np.linspace(1, N, N, dtype=F32)[::-1].copy()
    s0 = (t0 / F32(N)).astype(F32)
    if not c.get("use_dynamic_shifting"):
        s0 = (F32(shift) * s0 / (F32(1) + F32(shift - 1) * s0)).astype(F32)
    smin, smax = s0[-1].item(), s0[0].item()
    if sigmas is None:
        ts = np.linspace(smax * N, smin * N, n)
        s = ts / N
    else:
        s = np.array(sigmas).astype(F32)
        n = len(s)
    if c.get("use_dynamic_shifting"):
        s = time_shift(c, mu, s)
    else:
        s = shift * s / (1 + (shift - 1) * s)
    if c.get("shift_terminal"):
        s = stretch(c, s)
    if any_conv(c):
        s = convert(c, s[-1].item(), s[0].item(), n)
    s = np.asarray(s).astype(F32)
    ts = (s * F32(N)).astype(F32)
    if c.get("invert_sigmas"):
        s = (F32(1) - s).astype(F32)
        ts = (s * F32(N)).astype(F32)
        s = np.concatenate([s, np.ones(1, dtype=F32)])
    else:
        s = np.concatenate([s, np.zeros(1, dtype=F32)])
    return ts, s


SD = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}
LIN = {"beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "linear"}
COS = {"beta_schedule": "squaredcos_cap_v2"}


def cases():
    out = []

    def add(cls, name, cfg, steps, fn, **kw):
        ts, s = fn(cfg, steps, **kw)
        rec = {"class": cls, "name": name, "config": cfg, "steps": steps,
               "timesteps": [float(x) for x in ts], "sigmas": [float(x) for x in s]}
        if kw.get("mu") is not None:
            rec["mu"] = kw["mu"]
        if kw.get("sigmas") is not None:
            rec["custom_sigmas"] = [float(x) for x in kw["sigmas"]]
        out.append(rec)

    D = "DPMSolverMultistepScheduler"
    for steps in (1, 4, 10, 25, 48):
        add(D, "sd", dict(SD), steps, dpm)
        add(D, "sd-leading", dict(SD, timestep_spacing="leading", steps_offset=1), steps, dpm)
        add(D, "sd-trailing", dict(SD, timestep_spacing="trailing"), steps, dpm)
        add(D, "sd-karras", dict(SD, use_karras_sigmas=True), steps, dpm)
        add(D, "sd-exponential", dict(SD, use_exponential_sigmas=True), steps, dpm)
        add(D, "sd-beta", dict(SD, use_beta_sigmas=True), steps, dpm)
        add(D, "sd-lu", dict(SD, use_lu_lambdas=True), steps, dpm)
        add(D, "flow", dict(LIN, use_flow_sigmas=True, flow_shift=3.0, prediction_type="flow_prediction"), steps, dpm)
        add(D, "sigma-min", dict(LIN, final_sigmas_type="sigma_min"), steps, dpm)
        add(D, "cos-clipped", dict(COS, lambda_min_clipped=-5.1), steps, dpm)
        add(D, "cos-clipped-trailing", dict(COS, lambda_min_clipped=-5.1, timestep_spacing="trailing"), steps, dpm)
        add(D, "cos-karras", dict(COS, use_karras_sigmas=True), steps, dpm)
    add(D, "flow-mu", dict(LIN, use_flow_sigmas=True, use_dynamic_shifting=True), 8, dpm, mu=0.7)

    U = "UniPCMultistepScheduler"
    for steps in (1, 5, 20, 48):
        add(U, "sd", dict(SD), steps, unipc)
        add(U, "sd-leading", dict(SD, timestep_spacing="leading", steps_offset=1), steps, unipc)
        add(U, "sd-trailing", dict(SD, timestep_spacing="trailing"), steps, unipc)
        add(U, "sd-karras", dict(SD, use_karras_sigmas=True), steps, unipc)
        add(U, "sd-karras-range", dict(SD, use_karras_sigmas=True, sigma_min=0.05, sigma_max=10.0, final_sigmas_type="sigma_min"), steps, unipc)
        add(U, "sd-exponential", dict(SD, use_exponential_sigmas=True), steps, unipc)
        add(U, "sd-beta", dict(SD, use_beta_sigmas=True), steps, unipc)
        add(U, "flow", dict(LIN, use_flow_sigmas=True, flow_shift=3.0, prediction_type="flow_prediction"), steps, unipc)
        if steps > 1:  # one step stretches 0/0
            add(U, "flow-terminal", dict(LIN, use_flow_sigmas=True, flow_shift=2.0, shift_terminal=0.1), steps, unipc)
        add(U, "flow-karras", dict(LIN, use_flow_sigmas=True, use_karras_sigmas=True), steps, unipc)
        add(U, "sigma-min", dict(LIN, final_sigmas_type="sigma_min"), steps, unipc)
    add(U, "flow-mu", dict(LIN, use_flow_sigmas=True, use_dynamic_shifting=True), 6, unipc, mu=1.1)
    add(U, "flow-mu-linear", dict(LIN, use_flow_sigmas=True, use_dynamic_shifting=True, time_shift_type="linear"), 6, unipc, mu=1.3)
    add(U, "flow-custom", dict(LIN, use_flow_sigmas=True, flow_shift=3.0), 4, unipc, sigmas=[1.0, 0.75, 0.5, 0.25])

    H = "HeunDiscreteScheduler"
    for steps in (1, 3, 10, 25):
        add(H, "default", {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear"}, steps, heun)
        add(H, "sd", dict(SD), steps, heun)
        add(H, "sd-leading", dict(SD, timestep_spacing="leading", steps_offset=1), steps, heun)
        add(H, "sd-trailing", dict(SD, timestep_spacing="trailing"), steps, heun)
        add(H, "sd-karras", dict(SD, use_karras_sigmas=True), steps, heun)
        add(H, "sd-exponential", dict(SD, use_exponential_sigmas=True), steps, heun)
        add(H, "sd-beta", dict(SD, use_beta_sigmas=True), steps, heun)

    F = "FlowMatchEulerDiscreteScheduler"
    for steps in (1, 4, 28, 50):
        add(F, "shift1", {}, steps, flowmatch)
        add(F, "sd3", {"shift": 3.0}, steps, flowmatch)
        if steps > 1:
            add(F, "terminal", {"shift": 3.0, "shift_terminal": 0.1}, steps, flowmatch)
        add(F, "karras", {"shift": 3.0, "use_karras_sigmas": True}, steps, flowmatch)
        add(F, "exponential", {"shift": 3.0, "use_exponential_sigmas": True}, steps, flowmatch)
        add(F, "beta", {"shift": 3.0, "use_beta_sigmas": True}, steps, flowmatch)
        add(F, "invert", {"shift": 3.0, "invert_sigmas": True}, steps, flowmatch)
        add(F, "dynamic", {"use_dynamic_shifting": True}, steps, flowmatch, mu=0.8)
        add(F, "dynamic-linear", {"use_dynamic_shifting": True, "time_shift_type": "linear"}, steps, flowmatch, mu=1.5)
        add(F, "flux", {"use_dynamic_shifting": True, "shift": 3.0}, steps, flowmatch,
            mu=1.05, sigmas=list(np.linspace(1.0, 1 / steps, steps)))
    return out


# Step runs: deterministic model outputs and noise, the same in the Go
# test (p2Pattern), fed through diffusers' step functions restated in
# numpy float32.

def pattern(i, n, salt):
    k = np.arange(n, dtype=np.int64)
    return (((k * 7919 + i * 104729 + salt * 15485863) % 2001 - 1000) / 1000.0).astype(F32)


def threshold(x, batch, c):
    ratio, smax = c.get("dynamic_thresholding_ratio", 0.995), c.get("sample_max_value", 1.0)
    x = x.reshape(batch, -1)
    out = np.empty_like(x)
    for b in range(batch):
        a = np.abs(x[b])
        srt = np.sort(a)
        pos = ratio * (len(srt) - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, len(srt) - 1)
        q = srt[lo] + (pos - lo) * (srt[hi] - srt[lo])
        sv = F32(min(max(q, 1), smax))
        out[b] = np.clip(x[b], -sv, sv) / sv
    return out.reshape(-1).astype(F32)


def ab(c, sigma):
    if c.get("use_flow_sigmas"):
        return F32(1) - sigma, sigma
    a = F32(1) / np.sqrt(sigma * sigma + F32(1))
    return a, sigma * a


def lam(c, sigma):
    a, s = ab(c, sigma)
    with np.errstate(divide="ignore"):
        return np.log(a) - np.log(s)


def dpm_run(c, n, size, batch):
    ts, sig = dpm(c, n)
    sig = sig.astype(F32)
    algo = c.get("algorithm_type", "dpmsolver++")
    order = c.get("solver_order", 2)
    stype = c.get("solver_type", "midpoint")
    pt = c.get("prediction_type", "epsilon")
    L = len(ts)
    hist = [None] * order
    lower = 0
    x = pattern(0, size, 1) * sig[0]
    states = []
    np.seterr(all="ignore")
    for i in range(L):
        out = pattern(i, size, 2)
        lof = i == L - 1 and (c.get("euler_at_final", False) or (c.get("lower_order_final", True) and L < 15) or c.get("final_sigmas_type", "zero") == "zero")
        los = i == L - 2 and c.get("lower_order_final", True) and L < 15
        a, s = ab(c, sig[i])
        if algo in ("dpmsolver++", "sde-dpmsolver++"):
            if pt == "epsilon":
                m = (x - s * out) / a
            elif pt == "v_prediction":
                m = a * x - s * out
            elif pt == "flow_prediction":
                m = x - sig[i] * out
            else:
                m = out
            if c.get("thresholding"):
                m = threshold(m, batch, c)
        else:
            if pt == "epsilon":
                m = out
            elif pt == "v_prediction":
                m = a * out + s * x
            else:
                m = (x - a * out) / s
            if c.get("thresholding"):
                x0 = threshold((x - s * m) / a, batch, c)
                m = (x - a * x0) / s
        m = m.astype(F32)
        hist = hist[1:] + [m]
        z = pattern(i, size, 3) if algo.startswith("sde") else None
        at, st = ab(c, sig[i + 1])
        a0, s0 = ab(c, sig[i])
        h = lam(c, sig[i + 1]) - lam(c, sig[i])
        if order == 1 or lower < 1 or lof:
            if algo == "dpmsolver++":
                x = (st / s0) * x - (at * (np.exp(-h) - F32(1))) * m
            elif algo == "dpmsolver":
                x = (at / a0) * x - (st * (np.exp(h) - F32(1))) * m
            elif algo == "sde-dpmsolver++":
                x = (st / s0 * np.exp(-h)) * x + (at * (F32(1) - np.exp(F32(-2) * h))) * m + st * np.sqrt(F32(1) - np.exp(F32(-2) * h)) * z
            else:
                x = (at / a0) * x - F32(2) * (st * (np.exp(h) - F32(1))) * m + st * np.sqrt(np.exp(F32(2) * h) - F32(1)) * z
        elif order == 2 or lower < 2 or los:
            m0, m1 = hist[-1], hist[-2]
            h0 = lam(c, sig[i]) - lam(c, sig[i - 1])
            r0 = h0 / h
            D0, D1 = m0, (F32(1) / r0) * (m0 - m1)
            e = np.exp(-h) - F32(1)
            ep = np.exp(h) - F32(1)
            e2 = F32(1) - np.exp(F32(-2) * h)
            if algo == "dpmsolver++":
                if stype == "midpoint":
                    x = (st / s0) * x - (at * e) * D0 - F32(0.5) * (at * e) * D1
                else:
                    x = (st / s0) * x - (at * e) * D0 + (at * (e / h + F32(1))) * D1
            elif algo == "dpmsolver":
                if stype == "midpoint":
                    x = (at / a0) * x - (st * ep) * D0 - F32(0.5) * (st * ep) * D1
                else:
                    x = (at / a0) * x - (st * ep) * D0 - (st * (ep / h - F32(1))) * D1
            elif algo == "sde-dpmsolver++":
                nz = st * np.sqrt(e2) * z
                if stype == "midpoint":
                    x = (st / s0 * np.exp(-h)) * x + (at * e2) * D0 + F32(0.5) * (at * e2) * D1 + nz
                else:
                    x = (st / s0 * np.exp(-h)) * x + (at * e2) * D0 + (at * (e2 / (F32(-2) * h) + F32(1))) * D1 + nz
            else:
                nz = st * np.sqrt(np.exp(F32(2) * h) - F32(1)) * z
                if stype == "midpoint":
                    x = (at / a0) * x - F32(2) * (st * ep) * D0 - (st * ep) * D1 + nz
                else:
                    x = (at / a0) * x - F32(2) * (st * ep) * D0 - F32(2) * (st * (ep / h - F32(1))) * D1 + nz
        else:
            m0, m1, m2 = hist[-1], hist[-2], hist[-3]
            h0 = lam(c, sig[i]) - lam(c, sig[i - 1])
            h1 = lam(c, sig[i - 1]) - lam(c, sig[i - 2])
            r0, r1 = h0 / h, h1 / h
            D10, D11 = (F32(1) / r0) * (m0 - m1), (F32(1) / r1) * (m1 - m2)
            D1 = D10 + (r0 / (r0 + r1)) * (D10 - D11)
            D2 = (F32(1) / (r0 + r1)) * (D10 - D11)
            e = np.exp(-h) - F32(1)
            ep = np.exp(h) - F32(1)
            e2 = F32(1) - np.exp(F32(-2) * h)
            if algo == "dpmsolver++":
                x = (st / s0) * x - (at * e) * m0 + (at * (e / h + F32(1))) * D1 - (at * ((e + h) / h ** 2 - F32(0.5))) * D2
            elif algo == "dpmsolver":
                x = (at / a0) * x - (st * ep) * m0 - (st * (ep / h - F32(1))) * D1 - (st * ((ep - h) / h ** 2 - F32(0.5))) * D2
            else:
                x = (st / s0 * np.exp(-h)) * x + (at * e2) * m0 + (at * (e2 / (F32(-2) * h) + F32(1))) * D1 + (at * ((e2 - F32(2) * h) / (F32(2) * h) ** 2 - F32(0.5))) * D2 + st * np.sqrt(e2) * z
        x = x.astype(F32)
        if lower < order:
            lower += 1
        states.append([float("%.9g" % v) for v in x])
    return states


def unipc_run(c, n, size):
    ts, sig = unipc(c, n)
    sig = sig.astype(F32)
    order = c.get("solver_order", 2)
    pt = c.get("prediction_type", "epsilon")
    px0 = c.get("predict_x0", True)
    bh1 = c.get("solver_type", "bh2") == "bh1"
    disable = c.get("disable_corrector", [])
    L = len(ts)
    hist = [None] * order
    lower, this_order, last = 0, None, None
    x = pattern(0, size, 1) * sig[0]
    states = []
    np.seterr(all="ignore")

    def update(t_idx, s_idx, xs, hidx, ms, m0, K, mt):
        at, st = ab(c, sig[t_idx])
        a0, s0 = ab(c, sig[s_idx])
        h = lam(c, sig[t_idx]) - lam(c, sig[s_idx])
        rks, D1s = [], []
        for k in range(K - 1):
            rk = (lam(c, sig[hidx[k]]) - lam(c, sig[s_idx])) / h
            rks.append(rk)
            D1s.append((ms[k] - m0) / rk)
        rks.append(F32(1))
        rks = np.array(rks, dtype=F32)
        hh = -h if px0 else h
        hphi1 = np.expm1(hh)
        hphik = hphi1 / hh - F32(1)
        fact = 1
        Bh = hh if bh1 else np.expm1(hh)
        R, b = [], []
        for j in range(1, K + 1):
            R.append(np.power(rks, j - 1))
            b.append(hphik * fact / Bh)
            fact *= j + 1
            hphik = hphik / hh - F32(1) / fact
        R = np.array(R, dtype=F32)
        b = np.array(b, dtype=F32)
        if px0:
            base = st / s0 * xs - at * hphi1 * m0
            coef = at * Bh
        else:
            base = at / a0 * xs - st * hphi1 * m0
            coef = st * Bh
        if mt is None:
            if not D1s:
                # diffusers computes base - coef*0 here, NaN when coef is
                # infinite (bh1 at a zero final sigma); the Go code and this
                # reference drop the empty term instead.
                return base
            rhos = np.array([0.5], dtype=F32) if K == 2 else np.linalg.solve(R[:-1, :-1].astype(np.float64), b[:-1].astype(np.float64)).astype(F32)
            res = sum(rhos[k] * D1s[k] for k in range(K - 1))
            return base - coef * res
        rhos = np.array([0.5], dtype=F32) if K == 1 else np.linalg.solve(R.astype(np.float64), b.astype(np.float64)).astype(F32)
        res = sum(rhos[k] * D1s[k] for k in range(K - 1)) if D1s else F32(0)
        return base - coef * (res + rhos[-1] * (mt - m0))

    for i in range(L):
        out = pattern(i, size, 2)
        a, s = ab(c, sig[i])
        if px0:
            if pt == "epsilon":
                m = (x - s * out) / a
            elif pt == "v_prediction":
                m = a * x - s * out
            elif pt == "flow_prediction":
                m = x - sig[i] * out
            else:
                m = out
        else:
            if pt == "epsilon":
                m = out
            elif pt == "v_prediction":
                m = a * out + s * x
            else:
                m = (x - a * out) / s
        m = m.astype(F32)
        if i > 0 and (i - 1) not in disable and last is not None:
            K = this_order
            hidx = [i - (k + 2) for k in range(K - 1)]
            ms = [hist[-(k + 2)] for k in range(K - 1)]
            x = update(i, i - 1, last, hidx, ms, hist[-1], K, m).astype(F32)
        hist = hist[1:] + [m]
        o = min(order, L - i) if c.get("lower_order_final", True) else order
        this_order = min(o, lower + 1)
        last = x
        hidx = [i - (k + 1) for k in range(this_order - 1)]
        ms = [hist[-(k + 2)] for k in range(this_order - 1)]
        x = update(i + 1, i, x, hidx, ms, hist[-1], this_order, None).astype(F32)
        if lower < order:
            lower += 1
        states.append([float("%.9g" % v) for v in x])
    return states


def heun_run(c, n, size):
    ts, sig = heun(c, n)
    sig = sig.astype(F32)
    pt = c.get("prediction_type", "epsilon")
    x = pattern(0, size, 1) * sig[0]
    states = []
    prev_d = dt = saved = None
    for i in range(len(ts)):
        out = pattern(i, size, 2)
        first = dt is None
        sigma, nxt = (sig[i], sig[i + 1]) if first else (sig[i - 1], sig[i])
        si = sigma if first else nxt
        if pt == "epsilon":
            x0 = x - si * out
        elif pt == "v_prediction":
            x0 = out * (-si / np.sqrt(si * si + F32(1))) + (x / (si * si + F32(1)))
        else:
            x0 = out
        if c.get("clip_sample"):
            r = F32(c.get("clip_sample_range", 1.0))
            x0 = np.clip(x0, -r, r)
        if first:
            d = (x - x0) / sigma
            dt = nxt - sigma
            prev_d, saved = d, x
            x = x + d * dt
        else:
            d = (x - x0) / nxt
            d = (prev_d + d) / F32(2)
            x = saved + d * dt
            prev_d = dt = saved = None
        x = x.astype(F32)
        states.append([float("%.9g" % v) for v in x])
    return states


def flow_run(c, n, size, mu=None):
    ts, sig = flowmatch(c, n, mu=mu)
    x = pattern(0, size, 1)
    states = []
    for i in range(len(ts)):
        out = pattern(i, size, 2)
        sg, nx = sig[i], sig[i + 1]
        if c.get("stochastic_sampling"):
            x0 = x - sg * out
            x = (F32(1) - nx) * x0 + nx * pattern(i, size, 3)
        else:
            x = x + (nx - sg) * out
        x = x.astype(F32)
        states.append([float("%.9g" % v) for v in x])
    return states


def step_cases():
    size, batch = 72, 2
    out = []

    def add(cls, name, cfg, steps, fn, **kw):
        rec = {"class": cls, "name": name, "config": cfg, "steps": steps, "size": size, "batch": batch,
               "states": fn(cfg, steps, size, **kw)}
        if kw.get("mu") is not None:
            rec["mu"] = kw["mu"]
        out.append(rec)

    D = "DPMSolverMultistepScheduler"
    for steps in (4, 16):
        for algo in ("dpmsolver++", "sde-dpmsolver++", "dpmsolver", "sde-dpmsolver"):
            for order in (1, 2, 3):
                if algo == "sde-dpmsolver" and order == 3:
                    continue
                for st in ("midpoint", "heun"):
                    cfg = dict(SD, algorithm_type=algo, solver_order=order, solver_type=st)
                    if algo in ("dpmsolver", "sde-dpmsolver"):
                        cfg["final_sigmas_type"] = "sigma_min"
                    add(D, "%s-o%d-%s" % (algo, order, st), cfg, steps, dpm_run, batch=batch)
        add(D, "v-karras", dict(SD, prediction_type="v_prediction", use_karras_sigmas=True, solver_order=3), steps, dpm_run, batch=batch)
        add(D, "sample-threshold", dict(SD, prediction_type="sample", thresholding=True, sample_max_value=1.5, dynamic_thresholding_ratio=0.9), steps, dpm_run, batch=batch)
        add(D, "eps-threshold-dpmsolver", dict(SD, algorithm_type="dpmsolver", thresholding=True, final_sigmas_type="sigma_min", sample_max_value=2.0), steps, dpm_run, batch=batch)
        add(D, "flow", dict(LIN, use_flow_sigmas=True, flow_shift=3.0, prediction_type="flow_prediction"), steps, dpm_run, batch=batch)
        add(D, "euler-final-sigma-min", dict(SD, euler_at_final=True, lower_order_final=False, final_sigmas_type="sigma_min"), steps, dpm_run, batch=batch)
        add(D, "no-lower-final-sigma-min", dict(SD, lower_order_final=False, final_sigmas_type="sigma_min", solver_order=3), steps, dpm_run, batch=batch)

    U = "UniPCMultistepScheduler"
    for steps in (4, 12):
        for order in (1, 2, 3):
            for st in ("bh1", "bh2"):
                add(U, "o%d-%s" % (order, st), dict(SD, solver_order=order, solver_type=st), steps, unipc_run)
        # predict_x0=False with a zero final sigma is 0*inf = NaN in diffusers.
        add(U, "noise-space", dict(SD, predict_x0=False, solver_order=3, final_sigmas_type="sigma_min"), steps, unipc_run)
        add(U, "v-karras", dict(SD, prediction_type="v_prediction", use_karras_sigmas=True), steps, unipc_run)
        add(U, "sample-pred", dict(SD, prediction_type="sample", solver_order=3), steps, unipc_run)
        add(U, "disable-corrector", dict(SD, disable_corrector=[0, 2], solver_order=3), steps, unipc_run)
        add(U, "flow", dict(LIN, use_flow_sigmas=True, flow_shift=3.0, prediction_type="flow_prediction"), steps, unipc_run)
        add(U, "no-lower-final", dict(SD, lower_order_final=False, final_sigmas_type="sigma_min", solver_order=3), steps, unipc_run)

    H = "HeunDiscreteScheduler"
    for steps in (3, 8):
        add(H, "eps", dict(SD), steps, heun_run)
        add(H, "v-karras", dict(SD, prediction_type="v_prediction", use_karras_sigmas=True), steps, heun_run)
        add(H, "sample-clip", dict(SD, prediction_type="sample", clip_sample=True, clip_sample_range=0.5), steps, heun_run)

    F = "FlowMatchEulerDiscreteScheduler"
    for steps in (4, 9):
        add(F, "sd3", {"shift": 3.0}, steps, flow_run)
        add(F, "stochastic", {"shift": 3.0, "stochastic_sampling": True}, steps, flow_run)
        add(F, "dynamic", {"use_dynamic_shifting": True}, steps, flow_run, mu=0.9)
    return out


def beta_ppf_table():
    ps = [1e-6, 0.001, 0.01, 0.1, 0.25, 0.3333333333333333, 0.5, 0.6, 0.9, 0.99, 0.999999]
    return [{"p": p, "a": a, "b": b, "x": float(scipy.stats.beta.ppf(p, a, b))}
            for (a, b) in ((0.6, 0.6), (0.5, 2.0), (2.0, 3.0)) for p in ps]


if __name__ == "__main__":
    print(json.dumps({"schedules": cases(), "beta_ppf": beta_ppf_table(), "steps": step_cases()}, indent=None, allow_nan=True))
