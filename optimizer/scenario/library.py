"""Where scenario files live: the built-in folder plus any folders the user adds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from optimizer.errors import ScenarioError
from optimizer.scenario.model import Scenario, load_scenario


def builtin_dir() -> Path:
    """The built-in scenarios: inside the wheel, or ``scenarios/`` in a source checkout."""
    packaged = resources.files("optimizer") / "_builtin_scenarios"
    if packaged.is_dir():
        return Path(str(packaged))
    import optimizer

    return Path(optimizer.__file__).resolve().parents[1] / "scenarios"


@dataclass(frozen=True)
class ScenarioLibrary:
    """Scenario files by id. A user's folder overrides a built-in scenario of the same id."""

    dirs: tuple[Path, ...]

    @classmethod
    def with_extra(cls, extra: Iterable[str | Path] = ()) -> ScenarioLibrary:
        """The built-in folder followed by ``extra`` folders (each must exist)."""
        dirs = [builtin_dir()]
        for d in extra:
            p = Path(d).expanduser()
            if not p.is_dir():
                raise ScenarioError("scenario folder not found", key="scenario-dir", value=str(p))
            dirs.append(p)
        return cls(tuple(dirs))

    def paths(self) -> dict[str, Path]:
        """id (file stem) -> path, for every ``*.toml`` in the folders. A user's folder may
        replace a built-in scenario; two of the user's folders with the same id is an error
        naming both files (which one was meant cannot be known)."""
        found: dict[str, Path] = {}
        builtin, seen = builtin_dir(), set()
        for d in self.dirs:
            if not d.is_dir() or (key := d.resolve()) in seen:  # a folder given twice
                continue
            seen.add(key)
            for p in sorted(d.glob("*.toml")):
                before = found.get(p.stem)
                if before is not None and before.parent != builtin:
                    raise ScenarioError(
                        f"the same scenario id in two folders ({before} and {p})",
                        file=str(p),
                        key="id",
                        value=p.stem,
                        hint="rename one of the files (a scenario's id is its file name)",
                    )
                found[p.stem] = p
        return found

    def get(self, scenario_id: str) -> Scenario:
        """Load the scenario with this id; an unknown id lists the known ones."""
        paths = self.paths()
        if scenario_id not in paths:
            known = ", ".join(sorted(paths)) or "none"
            raise ScenarioError(
                f"unknown scenario; known: {known}", key="scenario", value=scenario_id
            )
        return load_scenario(paths[scenario_id])

    def all(self) -> list[Scenario]:
        """Every scenario, loaded and checked, in id order."""
        return [load_scenario(p) for _, p in sorted(self.paths().items())]
