# Makes `import dreamcache` work when pytest runs from training/ (pytest 7.2 has no `pythonpath` ini).
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
