import os
import sys

# Tests import the package as `dreamcache` from this folder, under Debian's python3 and the GPU box's.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
