"""Every classification and tagging figure in one command: benchmarks/classify.py, then benchmarks/tag.py.

usage: python benchmarks/sequences.py
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    for script in ("classify.py", "tag.py"):
        print(f"==== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=True)
