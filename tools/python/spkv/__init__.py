"""spkv: speaker verification (is this the voice of the person who enrolled?), Python bindings of libspkv.so.

    import spkv
    model = spkv.Model("models/campplus-zh-en-16k-magneto-v1.safetensors")
    joe = model.enroll("joe", ["a.flac", "b.flac", "c.flac"])
    decision = model.verify(joe, "d.flac")          # decision.accepted, decision.score, decision.threshold

Audio is a file path (anything libsndfile reads) or a 1-D float array of mono samples in [-1, 1] with its sample
rate (resampled to the model's). Errors raise `spkv.Error` with the library's message and status name.

The library is found at $SPKV_LIBRARY, else as `libspkv.so` on the loader's path (tools/c-api/install.sh installs it).
A model and a profile may be shared between threads; a session belongs to one thread at a time.
"""
import ctypes
import ctypes.util
import math
import os
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Union

import numpy as np

__all__ = ["Error", "Model", "Profile", "Session", "Score", "Decision", "Update", "library_version"]

API_VERSION = 1
Audio = Union[str, os.PathLike, np.ndarray, Sequence[float]]


class Error(Exception):
    """A failed spkv call: `status` is the C status name (e.g. "SPKV_ERROR_AUDIO"), the message says what and why."""

    def __init__(self, status: str, message: str):
        super().__init__(f"{message} [{status}]")
        self.status = status
        self.message = message


class _ModelInfo(ctypes.Structure):
    _fields_ = [("sample_rate", ctypes.c_int), ("embedding_size", ctypes.c_int), ("outputs_llr", ctypes.c_int),
                ("has_magneto", ctypes.c_int), ("architecture", ctypes.c_char_p), ("quantization", ctypes.c_char_p),
                ("checksum", ctypes.c_char_p)]


class _Score(ctypes.Structure):
    _fields_ = [("cosine", ctypes.c_double), ("llr", ctypes.c_double), ("has_llr", ctypes.c_int), ("score", ctypes.c_double)]


class _Decision(ctypes.Structure):
    _fields_ = [("score", _Score), ("threshold", ctypes.c_double), ("accepted", ctypes.c_int)]


class _SessionSettings(ctypes.Structure):
    _fields_ = [("sample_rate", ctypes.c_int), ("window_seconds", ctypes.c_double), ("refresh_seconds", ctypes.c_double),
                ("min_speech_seconds", ctypes.c_double), ("max_seconds", ctypes.c_double), ("threshold", ctypes.c_double),
                ("prior", ctypes.c_double), ("background", ctypes.c_int)]


class _Update(ctypes.Structure):
    _fields_ = [("time", ctypes.c_double), ("speech_seconds", ctypes.c_double), ("has_score", ctypes.c_int),
                ("score", ctypes.c_double), ("has_smoothed", ctypes.c_int), ("smoothed_score", ctypes.c_double),
                ("accepted", ctypes.c_int)]


_float_p = ctypes.POINTER(ctypes.c_float)
_handle_p = ctypes.POINTER(ctypes.c_void_p)
_SIGNATURES = {
    "spkv_api_version": ([], ctypes.c_int),
    "spkv_version": ([], ctypes.c_char_p),
    "spkv_status_name": ([ctypes.c_int], ctypes.c_char_p),
    "spkv_last_error": ([], ctypes.c_char_p),
    "spkv_model_load": ([ctypes.c_char_p, _handle_p], ctypes.c_int),
    "spkv_model_free": ([ctypes.c_void_p], None),
    "spkv_model_get_info": ([ctypes.c_void_p, ctypes.POINTER(_ModelInfo)], ctypes.c_int),
    "spkv_embed_file": ([ctypes.c_void_p, ctypes.c_char_p, _float_p, ctypes.c_size_t], ctypes.c_int),
    "spkv_embed_pcm": ([ctypes.c_void_p, _float_p, ctypes.c_size_t, ctypes.c_int, _float_p, ctypes.c_size_t], ctypes.c_int),
    "spkv_compare": ([ctypes.c_void_p, _float_p, _float_p, ctypes.c_size_t, ctypes.POINTER(_Score)], ctypes.c_int),
    "spkv_enroll_files": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                           ctypes.c_double, _handle_p], ctypes.c_int),
    "spkv_enroll_pcm": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_float_p), ctypes.POINTER(ctypes.c_size_t),
                         ctypes.c_size_t, ctypes.c_int, ctypes.c_double, _handle_p], ctypes.c_int),
    "spkv_profile_load": ([ctypes.c_char_p, _handle_p], ctypes.c_int),
    "spkv_profile_save": ([ctypes.c_void_p, ctypes.c_char_p], ctypes.c_int),
    "spkv_profile_name": ([ctypes.c_void_p], ctypes.c_char_p),
    "spkv_profile_embedding_size": ([ctypes.c_void_p], ctypes.c_size_t),
    "spkv_profile_embedding": ([ctypes.c_void_p, _float_p, ctypes.c_size_t], ctypes.c_int),
    "spkv_profile_free": ([ctypes.c_void_p], None),
    "spkv_verify_file": ([ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_double, ctypes.c_double,
                          ctypes.POINTER(_Decision)], ctypes.c_int),
    "spkv_verify_pcm": ([ctypes.c_void_p, ctypes.c_void_p, _float_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_double,
                         ctypes.c_double, ctypes.POINTER(_Decision)], ctypes.c_int),
    "spkv_session_settings_init": ([ctypes.POINTER(_SessionSettings), ctypes.c_int], None),
    "spkv_session_new": ([ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(_SessionSettings), _handle_p], ctypes.c_int),
    "spkv_session_push": ([ctypes.c_void_p, _float_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int)], ctypes.c_int),
    "spkv_session_poll": ([ctypes.c_void_p, ctypes.POINTER(_Update), ctypes.POINTER(ctypes.c_int)], ctypes.c_int),
    "spkv_session_finish": ([ctypes.c_void_p, ctypes.POINTER(_Decision)], ctypes.c_int),
    "spkv_session_free": ([ctypes.c_void_p], None),
}

_lib = None


def _library():
    """libspkv.so, loaded once and checked against the API version these bindings speak."""
    global _lib
    if _lib is None:
        path = os.environ.get("SPKV_LIBRARY") or ctypes.util.find_library("spkv") or "libspkv.so"
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise Error("SPKV_ERROR_INVALID_ARGUMENT",
                        f"cannot load {path} ({e}); install it with tools/c-api/install.sh PREFIX and set "
                        f"SPKV_LIBRARY=PREFIX/lib/libspkv.so") from None
        for name, (args, result) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, result
        if lib.spkv_api_version() != API_VERSION:
            raise Error("SPKV_ERROR_INVALID_ARGUMENT",
                        f"{path} speaks C API version {lib.spkv_api_version()}, these bindings {API_VERSION}")
        _lib = lib
    return _lib


def _check(status: int):
    if status != 0:
        lib = _library()
        raise Error(lib.spkv_status_name(status).decode(), lib.spkv_last_error().decode("utf-8", "replace"))


def library_version() -> str:
    return _library().spkv_version().decode()


def _path(p) -> bytes:
    return os.fsencode(os.fspath(p))


def _samples(audio) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(audio, dtype=np.float32))
    if x.ndim != 1:
        raise Error("SPKV_ERROR_INVALID_ARGUMENT", f"audio must be a 1-D array of mono samples, got shape {x.shape}")
    return x


def _is_path(audio) -> bool:
    return isinstance(audio, (str, bytes, os.PathLike))


def _threshold(threshold: Optional[float]) -> float:
    return math.nan if threshold is None else float(threshold)


@dataclass(frozen=True)
class Score:
    cosine: float
    llr: Optional[float]
    score: float  # the LLR when the model is calibrated, else the cosine


@dataclass(frozen=True)
class Decision:
    score: Score
    threshold: float
    accepted: bool


@dataclass(frozen=True)
class Update:
    time: float                       # seconds heard at the end of this window
    speech_seconds: float             # speech detected in the window
    score: Optional[float]            # None when the window had too little speech
    smoothed_score: Optional[float]
    accepted: Optional[bool]          # None while there is no smoothed score


def _score(s: _Score) -> Score:
    return Score(s.cosine, s.llr if s.has_llr else None, s.score)


def _decision(d: _Decision) -> Decision:
    return Decision(_score(d.score), d.threshold, bool(d.accepted))


class _Handle:
    _free = ""

    def __init__(self, handle: ctypes.c_void_p):
        self._handle = handle

    def close(self):
        """Frees the library's object now (otherwise when garbage-collected)."""
        if getattr(self, "_handle", None):
            getattr(_library(), self._free)(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def _ptr(self):
        if not self._handle:
            raise Error("SPKV_ERROR_STATE", f"this {type(self).__name__} is closed")
        return self._handle


class Profile(_Handle):
    """An enrolled speaker: a name and an embedding, bound to the model that made it."""
    _free = "spkv_profile_free"

    @classmethod
    def load(cls, path) -> "Profile":
        h = ctypes.c_void_p()
        _check(_library().spkv_profile_load(_path(path), ctypes.byref(h)))
        return cls(h)

    def save(self, path):
        """Writes the profile (JSON, atomically), readable by `spkv verify --enrollment` too."""
        _check(_library().spkv_profile_save(self._ptr, _path(path)))

    @property
    def name(self) -> str:
        return _library().spkv_profile_name(self._ptr).decode()

    def embedding(self) -> np.ndarray:
        """The profile's embedding (as `Model.embed` gives for its speaker)."""
        lib = _library()
        out = np.zeros(lib.spkv_profile_embedding_size(self._ptr), dtype=np.float32)
        _check(lib.spkv_profile_embedding(self._ptr, out.ctypes.data_as(_float_p), out.size))
        return out


class Model(_Handle):
    """A loaded spkv model file (checked: format, version, checksum, tensors, scoring back end)."""
    _free = "spkv_model_free"

    def __init__(self, path):
        h = ctypes.c_void_p()
        _check(_library().spkv_model_load(_path(path), ctypes.byref(h)))
        super().__init__(h)
        info = _ModelInfo()
        _check(_library().spkv_model_get_info(h, ctypes.byref(info)))
        self.sample_rate = info.sample_rate
        self.embedding_size = info.embedding_size
        self.outputs_llr = bool(info.outputs_llr)
        self.has_magneto = bool(info.has_magneto)
        self.architecture = info.architecture.decode()
        self.quantization = info.quantization.decode()
        self.checksum = info.checksum.decode()

    def __repr__(self):
        return (f"spkv.Model({self.architecture}, {self.quantization}, {self.sample_rate} Hz, {self.embedding_size} values, "
                f"{'calibrated LLR' if self.outputs_llr else 'cosine'})")

    def _rate(self, sample_rate: Optional[int]) -> int:
        return self.sample_rate if sample_rate is None else int(sample_rate)

    def embed(self, audio: Audio, sample_rate: Optional[int] = None) -> np.ndarray:
        """The embedding of a file, or of mono samples at `sample_rate` (default: the model's)."""
        out = np.zeros(self.embedding_size, dtype=np.float32)
        lib = _library()
        if _is_path(audio):
            _check(lib.spkv_embed_file(self._ptr, _path(audio), out.ctypes.data_as(_float_p), out.size))
        else:
            x = _samples(audio)
            _check(lib.spkv_embed_pcm(self._ptr, x.ctypes.data_as(_float_p), x.size, self._rate(sample_rate),
                                      out.ctypes.data_as(_float_p), out.size))
        return out

    def score(self, a: np.ndarray, b: np.ndarray) -> Score:
        """Compares two embeddings of this model as `spkv score` does."""
        x, y = _samples(a), _samples(b)
        if x.size != y.size:
            raise Error("SPKV_ERROR_INVALID_ARGUMENT", f"embeddings of {x.size} and {y.size} values")
        s = _Score()
        _check(_library().spkv_compare(self._ptr, x.ctypes.data_as(_float_p), y.ctypes.data_as(_float_p), x.size,
                                       ctypes.byref(s)))
        return _score(s)

    def enroll(self, name: str, recordings: Iterable[Audio], sample_rate: Optional[int] = None,
               min_speech_seconds: Optional[float] = None) -> Profile:
        """A profile from several files, or several arrays at `sample_rate` (not mixed)."""
        items = list(recordings)
        h = ctypes.c_void_p()
        minimum = -1.0 if min_speech_seconds is None else float(min_speech_seconds)
        lib = _library()
        if items and all(_is_path(r) for r in items):
            if sample_rate is not None:
                raise Error("SPKV_ERROR_INVALID_ARGUMENT", "sample_rate is for arrays; files carry their own rate")
            paths = (ctypes.c_char_p * len(items))(*[_path(r) for r in items])
            _check(lib.spkv_enroll_files(self._ptr, name.encode(), paths, len(items), minimum, ctypes.byref(h)))
        elif all(not _is_path(r) for r in items):
            clips = [_samples(r) for r in items]
            pointers = (_float_p * len(clips))(*[c.ctypes.data_as(_float_p) for c in clips])
            lengths = (ctypes.c_size_t * len(clips))(*[c.size for c in clips])
            _check(lib.spkv_enroll_pcm(self._ptr, name.encode(), pointers, lengths, len(clips),
                                       self._rate(sample_rate), minimum, ctypes.byref(h)))
        else:
            raise Error("SPKV_ERROR_INVALID_ARGUMENT", "enroll from files or from arrays, not both")
        return Profile(h)

    def verify(self, profile: Profile, audio: Audio, sample_rate: Optional[int] = None,
               threshold: Optional[float] = None, prior: float = 0.01) -> Decision:
        """Is `audio` the profile's speaker? At `threshold`, else the Bayes threshold of a calibrated model at `prior`."""
        d = _Decision()
        lib = _library()
        if _is_path(audio):
            _check(lib.spkv_verify_file(self._ptr, profile._ptr, _path(audio), _threshold(threshold), prior, ctypes.byref(d)))
        else:
            x = _samples(audio)
            _check(lib.spkv_verify_pcm(self._ptr, profile._ptr, x.ctypes.data_as(_float_p), x.size,
                                       self._rate(sample_rate), _threshold(threshold), prior, ctypes.byref(d)))
        return _decision(d)

    def session(self, profile: Profile, sample_rate: Optional[int] = None, **settings) -> "Session":
        """A streaming session against `profile`; settings: window_seconds, refresh_seconds, min_speech_seconds,
        max_seconds, threshold (None: Bayes threshold at prior), prior, background (score on a worker thread)."""
        return Session(self, profile, self._rate(sample_rate), **settings)


class Session(_Handle):
    """Live verification: push samples as they arrive, read updates, then `finish` for the verdict on all of it."""
    _free = "spkv_session_free"

    def __init__(self, model: Model, profile: Profile, sample_rate: int, **settings):
        lib = _library()
        c = _SessionSettings()
        lib.spkv_session_settings_init(ctypes.byref(c), int(sample_rate))
        for key, value in settings.items():
            if key not in dict(_SessionSettings._fields_) or key == "sample_rate":
                raise Error("SPKV_ERROR_INVALID_ARGUMENT", f"unknown session setting '{key}'")
            setattr(c, key, _threshold(value) if key == "threshold" else value)
        h = ctypes.c_void_p()
        _check(lib.spkv_session_new(model._ptr, profile._ptr, ctypes.byref(c), ctypes.byref(h)))
        super().__init__(h)

    def push(self, samples) -> bool:
        """Takes samples; False once the session's max_seconds is reached (the rest is dropped)."""
        x = _samples(samples)
        all_taken = ctypes.c_int(1)
        _check(_library().spkv_session_push(self._ptr, x.ctypes.data_as(_float_p), x.size, ctypes.byref(all_taken)))
        return bool(all_taken.value)

    def updates(self) -> List[Update]:
        """The updates not yet read, oldest first."""
        out, u, has = [], _Update(), ctypes.c_int(0)
        lib = _library()
        while True:
            _check(lib.spkv_session_poll(self._ptr, ctypes.byref(u), ctypes.byref(has)))
            if not has.value:
                return out
            out.append(Update(u.time, u.speech_seconds, u.score if u.has_score else None,
                              u.smoothed_score if u.has_smoothed else None, None if u.accepted < 0 else bool(u.accepted)))

    def finish(self) -> Decision:
        """The verdict on everything heard; the session takes no more audio."""
        d = _Decision()
        _check(_library().spkv_session_finish(self._ptr, ctypes.byref(d)))
        return _decision(d)
