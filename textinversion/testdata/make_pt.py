# Writes testdata/a1111.pt the way torch.save writes AUTOMATIC1111's
# embeddings (a zip with archive/data.pkl and archive/data/0), with stdlib
# stand-ins for the torch globals so no torch is needed:
#   {'string_to_token': {'*': 265}, 'string_to_param': {'*': Parameter[2, 4]},
#    'name': 'a1111', 'step': 1500}
# Run: python3 testdata/make_pt.py
import collections, io, pickle, struct, sys, types, zipfile

torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils
class FloatStorage: pass
FloatStorage.__module__ = "torch"; torch.FloatStorage = FloatStorage
def _rebuild_tensor_v2(*a): pass
def _rebuild_parameter(*a): pass
_rebuild_tensor_v2.__module__ = _rebuild_parameter.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2; utils._rebuild_parameter = _rebuild_parameter

class Storage:
    pass
class Tensor:
    def __reduce__(self):
        # a [2, 4] view starting at element 1 of an 9-element storage
        return (_rebuild_tensor_v2, (STORAGE, 1, (2, 4), (4, 1), False, collections.OrderedDict()))
class Param:
    def __reduce__(self):
        return (_rebuild_parameter, (Tensor(), True, collections.OrderedDict()))
STORAGE = Storage()

class P(pickle.Pickler):
    def persistent_id(self, obj):
        if obj is STORAGE:
            return ("storage", FloatStorage, "0", "cpu", 9)
        return None

buf = io.BytesIO()
P(buf, protocol=2).dump({"string_to_token": {"*": 265}, "string_to_param": {"*": Param()}, "name": "a1111", "step": 1500})
values = [99.0] + [0.5 * i - 1 for i in range(8)]
with zipfile.ZipFile("testdata/a1111.pt", "w") as z:
    z.writestr("archive/data.pkl", buf.getvalue())
    z.writestr("archive/data/0", struct.pack("<9f", *values))
    z.writestr("archive/version", "3\n")
