"""Optimizer speed beside PyPortfolioOpt, Riskfolio-Lib and skfolio, in one process.

Run: ``python benchmarks/bench_optimize.py [--only a|b|c] [--repeat 3]``

(a) min variance and max Sharpe, 500 assets x 2,000 days of returns;
(b) min CVaR at 95 %, 500 assets x 2,000 scenarios;
(c) 1,000 re-solves of a 10-asset mean-variance utility problem with changing inputs.

Every library gets the same returns (and the same mean and covariance where it takes them);
each optimum is checked against ours (weights, objective) before its time is printed.
For capalloc, "cold" is build (DPP compilation) + one solve, "warm" is one more solve of the
compiled problem with new inputs (what every account after the first costs). Medians over
``--repeat`` runs; BLAS limited to one thread (``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from optimizer.data.base import Provenance
from optimizer.estimate import Estimate
from optimizer.optimize import Inputs, Optimizer, Policy, Shape
from optimizer.optimize.result import cvar_of

warnings.filterwarnings("ignore")


def market(n: int, T: int, seed: int = 0) -> np.ndarray:
    """Daily-like returns (T, n): 5 factors plus idiosyncratic noise, positive drifts."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(T, 5)) * 0.008
    B = rng.normal(0.8, 0.4, size=(5, n)) / np.sqrt(5)
    return (
        F @ B + rng.normal(size=(T, n)) * rng.uniform(0.005, 0.02, n) + rng.uniform(0.0, 0.0008, n)
    )


def estimate(X: np.ndarray, *, samples: bool = False, rf: float = 0.0) -> Estimate:
    tickers = tuple(f"A{i:03d}" for i in range(X.shape[1]))
    prov = Provenance("benchmark", tickers, None, None, "daily")
    return Estimate(
        tickers=tickers,
        mu=X.mean(axis=0),
        Sigma=np.cov(X.T),
        horizon_years=1 / 252,
        risk_free=rf,
        provenance=prov,
        samples=X if samples else None,
    )


def timed(fn, repeat: int):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def report(title: str, rows: list[tuple[str, float, str]], ours: float) -> None:
    print(f"\n{title}")
    print(f"  {'method':<34} {'median s':>10} {'vs capalloc warm':>17}  check")
    for name, sec, check in rows:
        print(f"  {name:<34} {sec:>10.4f} {sec / ours:>16.1f}x  {check}")


def _agree(w: np.ndarray, w_ref: np.ndarray, obj: float, obj_ref: float) -> str:
    dw = float(np.abs(w - w_ref).max())
    rel = abs(obj - obj_ref) / max(abs(obj_ref), 1e-300)
    return f"max|dw|={dw:.1e} obj rel={rel:.1e}"


# -- (a) ------------------------------------------------------------------------------------
def peers_a(X: np.ndarray, kind: str) -> dict[str, callable]:
    from pypfopt import EfficientFrontier
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    mu, S = pd.Series(X.mean(axis=0)), pd.DataFrame(np.cov(X.T))
    rets = pd.DataFrame(X)

    def pypfopt():
        ef = EfficientFrontier(mu, S, solver="CLARABEL")
        ef.min_volatility() if kind == "min_variance" else ef.max_sharpe(risk_free_rate=0.0)
        return np.array(list(ef.weights))

    def riskfolio():
        import riskfolio as rp

        port = rp.Portfolio(returns=rets)
        port.mu, port.cov = mu.to_frame().T, S
        port.solvers = ["CLARABEL"]
        obj = "MinRisk" if kind == "min_variance" else "Sharpe"
        return (
            port.optimization(model="Classic", rm="MV", obj=obj, rf=0, hist=False)
            .to_numpy()
            .ravel()
        )

    def skfolio():
        objective = (
            ObjectiveFunction.MINIMIZE_RISK
            if kind == "min_variance"
            else ObjectiveFunction.MAXIMIZE_RATIO
        )
        m = MeanRisk(
            risk_measure=RiskMeasure.VARIANCE, objective_function=objective, solver="CLARABEL"
        )
        return np.asarray(m.fit(X).weights_)

    return {"PyPortfolioOpt": pypfopt, "Riskfolio-Lib": riskfolio, "skfolio": skfolio}


def bench_a(repeat: int) -> None:
    X = market(500, 2000)
    est = estimate(X)
    for kind in ("min_variance", "max_sharpe"):
        policy = Policy.simple(est.tickers, objective={"kind": kind})

        def cold(policy=policy):
            return Optimizer(policy).build(Shape()).solve(Inputs(est))

        t_cold, alloc = timed(cold, repeat)
        built = Optimizer(policy).build(Shape())
        built.solve(Inputs(est))
        t_warm, alloc = timed(lambda b=built: b.solve(Inputs(est)), repeat)
        w = np.array(list(alloc.weights.values()))
        objective = _objective_a(kind, est)
        rows = [
            ("capalloc cold (build + solve)", t_cold, ""),
            ("capalloc warm (solve)", t_warm, ""),
        ]
        for name, fn in peers_a(X, kind).items():
            sec, w_p = timed(fn, repeat)
            rows.append((name, sec, _agree(w, w_p, objective(w), objective(w_p))))
        report(f"(a) {kind}, 500 assets x 2000 days", rows, t_warm)


def _objective_a(kind: str, est: Estimate):
    if kind == "min_variance":
        return lambda w: float(w @ est.Sigma @ w)
    return lambda w: float(est.mu @ w / np.sqrt(w @ est.Sigma @ w))


# -- (b) ------------------------------------------------------------------------------------
def peers_b(X: np.ndarray) -> dict[str, callable]:
    from pypfopt import EfficientCVaR
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    rets = pd.DataFrame(X)

    def pypfopt():
        ec = EfficientCVaR(rets.mean(), rets, beta=0.95)
        ec.min_cvar()
        return np.array(list(ec.weights))

    def riskfolio():
        import riskfolio as rp

        port = rp.Portfolio(returns=rets, alpha=0.05)
        port.assets_stats(method_mu="hist", method_cov="hist")
        return (
            port.optimization(model="Classic", rm="CVaR", obj="MinRisk", hist=True)
            .to_numpy()
            .ravel()
        )

    def skfolio():
        m = MeanRisk(
            risk_measure=RiskMeasure.CVAR,
            objective_function=ObjectiveFunction.MINIMIZE_RISK,
            cvar_beta=0.95,
        )
        return np.asarray(m.fit(X).weights_)

    return {"PyPortfolioOpt": pypfopt, "Riskfolio-Lib": riskfolio, "skfolio": skfolio}


def bench_b(repeat: int, peer_repeat: int) -> None:
    X = market(500, 2000, seed=1)
    est = estimate(X, samples=True)
    policy = Policy.simple(est.tickers, objective={"kind": "min_cvar", "cvar_level": 0.95})

    def cold():
        return Optimizer(policy).build(est).solve(Inputs(est))

    t_cold, alloc = timed(cold, repeat)
    built = Optimizer(policy).build(est)
    t_warm, alloc = timed(lambda: built.solve(Inputs(est)), repeat)
    w = np.array(list(alloc.weights.values()))
    rows = [
        ("capalloc cold (build + solve)", t_cold, f"solver {alloc.solver}"),
        ("capalloc warm (solve)", t_warm, ""),
    ]
    for name, fn in peers_b(X).items():
        sec, w_p = timed(fn, peer_repeat)
        rows.append((name, sec, _agree(w, w_p, cvar_of(X @ w, 0.95), cvar_of(X @ w_p, 0.95))))
    report("(b) min CVaR 95%, 500 assets x 2000 scenarios", rows, t_warm)


# -- (c) ------------------------------------------------------------------------------------
def bench_c(n_solves: int) -> None:
    from pypfopt import EfficientFrontier

    rng = np.random.default_rng(2)
    base = market(10, 500, seed=2)
    inputs = []
    for _ in range(n_solves):  # changing inputs: a new 250-day window and noisy means
        start = int(rng.integers(0, 250))
        est = estimate(base[start : start + 250])
        mu = (est.mu + rng.normal(0, 2e-4, 10)) * 252  # annual moments, one-year horizon
        fields = {**est.__dict__, "mu": mu, "Sigma": est.Sigma * 252, "horizon_years": 1.0}
        inputs.append(Estimate(**fields))
    policy = Policy.simple(
        inputs[0].tickers,
        objective={"kind": "utility", "risk_aversion": 5.0},
        constraints={"groups": ["A000 + A001 <= 0.5"]},
        assets={t: {"max": 0.4} for t in inputs[0].tickers},
    )
    built = Optimizer(policy).build(Shape())
    built.solve(Inputs(inputs[0]))
    t = time.perf_counter()
    ours = [built.solve(Inputs(e)) for e in inputs]
    t_full = time.perf_counter() - t
    t = time.perf_counter()
    for e in inputs:
        built.solve_numbers(built.numbers(Inputs(e)), duals=False)
    t_fast = time.perf_counter() - t
    m = 100  # PyPortfolioOpt: fewer solves (about 80 per second here)
    theirs = []
    t = time.perf_counter()
    for e in inputs[:m]:
        ef = EfficientFrontier(
            pd.Series(e.mu), pd.DataFrame(e.Sigma), weight_bounds=(0, 0.4), solver="CLARABEL"
        )
        ef.add_constraint(lambda w: w[0] + w[1] <= 0.5)
        ef.max_quadratic_utility(risk_aversion=5.0)
        theirs.append(np.array(list(ef.weights)))
    t_pf = time.perf_counter() - t
    dw = du = 0.0
    for a, w_p, e in zip(ours, theirs, inputs, strict=False):
        w_o = np.array(list(a.weights.values()))
        dw = max(dw, float(np.abs(w_p - w_o).max()))
        util = [e.mu @ v - 2.5 * v @ e.Sigma @ v for v in (w_o, w_p)]
        du = max(du, abs(util[0] - util[1]) / abs(util[0]))
    print(f"\n(c) {n_solves} re-solves of a 10-asset utility problem, one core")
    print(f"  capalloc Allocation (duals, metrics): {n_solves / t_full:10.0f} solves/s")
    print(f"  capalloc weights only (no duals):     {n_solves / t_fast:10.0f} solves/s")
    print(
        f"  PyPortfolioOpt max_quadratic_utility: {m / t_pf:10.0f} solves/s  "
        f"(first {m}; vs capalloc max|dw| {dw:.1e}, utility rel {du:.1e})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["a", "b", "c"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peer-repeat-b", type=int, default=1)
    ap.add_argument("--solves", type=int, default=1000)
    args = ap.parse_args()
    if args.only in (None, "a"):
        bench_a(args.repeat)
    if args.only in (None, "b"):
        bench_b(args.repeat, args.peer_repeat_b)
    if args.only in (None, "c"):
        bench_c(args.solves)


if __name__ == "__main__":
    main()
