#!/usr/bin/python3
"""svwar (SIPVicious 0.3.3) sending from a given address: svwar_bound.py IP SVWAR-ARGS...

svwar 0.3.3 parses -b/--bindingip but its main() never passes it on, so it always sends
from the address the kernel picks (127.0.0.1 on loopback). This runs the installed svwar's
own main() with the binding set; nothing else changes. Run with the system python3, the
one Debian's sipvicious is installed for (its package lives in /usr/share/sipvicious)."""
import os
import sys

sys.path.insert(0, "/usr/share/sipvicious")
from sipvicious import svwar  # noqa: E402

BIND = sys.argv.pop(1)
_init = svwar.TakeASip.__init__


def _bound(self, *args, **kwargs):
    kwargs["bindingip"] = BIND
    _init(self, *args, **kwargs)


svwar.TakeASip.__init__ = _bound
sys.argv[0] = "svwar"
os.environ.setdefault("HOME", "/tmp")
sys.exit(svwar.main())
