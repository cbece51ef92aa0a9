"""The Kafka broker's jars, fetched once from Maven Central and cached outside the repo."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from schemas.errors import InfrastructureError

_POM = Path(__file__).parent / "kafka" / "pom.xml"


def _pom_text() -> str:
    return _POM.read_text()


def kafka_version() -> str:
    text = _pom_text()
    start = text.index("<kafka.version>") + len("<kafka.version>")
    return text[start : text.index("</kafka.version>")]


def ensure_kafka_jars(cache_dir: Path) -> Path:
    """Return the folder of broker jars, running Maven only when the cache lacks them."""
    libs = cache_dir / f"kafka-{kafka_version()}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise InfrastructureError("Maven (mvn) is needed once to fetch the Kafka jars")
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    pom = tmp / "pom.xml"
    pom.write_text(_pom_text())
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InfrastructureError(f"fetching Kafka jars failed:\n{result.stdout}\n{result.stderr}")
    pom.unlink()
    if not any(tmp.glob("kafka_2.13-*.jar")):
        raise InfrastructureError("Maven ran but the kafka_2.13 jar is missing")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    marker.write_text("ok\n")
    return libs
