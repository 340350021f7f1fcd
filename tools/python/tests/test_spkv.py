"""Tests of the Python package over the real libspkv.so ($SPKV_LIBRARY) and the shipped default model.

SPKV_TEST_MODEL and SPKV_TEST_SAMPLES point at the model file and models/samples/fotaq-joe (the Swift test suite
sets them; by default they are found from this file's place in the repository).
"""
import math
import os
import threading

import numpy as np
import pytest

import spkv

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL = os.environ.get("SPKV_TEST_MODEL", os.path.join(ROOT, "models", "campplus-zh-en-16k-magneto-v1.safetensors"))
SAMPLES = os.environ.get("SPKV_TEST_SAMPLES", os.path.join(ROOT, "models", "samples", "fotaq-joe"))
ENROLL = ["joe_13001EJ1.flac", "joe_370007J1.flac", "joe_JOE00942.flac"]


def sample(name):
    return os.path.join(SAMPLES, name)


def tone(seconds, rate, hz=220.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    with spkv.Model(MODEL) as m:
        yield m


@pytest.fixture(scope="module")
def joe(model):
    return model.enroll("joe", [sample(n) for n in ENROLL])


def test_model_info(model):
    assert (model.sample_rate, model.embedding_size, model.outputs_llr, model.has_magneto) == (16000, 192, True, True)
    assert model.architecture == "campplus" and model.quantization == "fp32" and len(model.checksum) == 8
    assert spkv.library_version()


def test_bad_model_files(tmp_path):
    with pytest.raises(spkv.Error) as e:
        spkv.Model(tmp_path / "missing.safetensors")
    assert e.value.status == "SPKV_ERROR_MODEL" and "missing.safetensors" in e.value.message
    (tmp_path / "bad.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(spkv.Error, match="bad.safetensors"):
        spkv.Model(tmp_path / "bad.safetensors")


def test_embed_file_and_array_agree(model):
    from_file = model.embed(sample("joe_7400B3J1.flac"))
    assert from_file.shape == (192,) and np.all(np.isfinite(from_file))
    samples = tone(3, 16000)
    a = model.embed(samples)
    b = model.embed(tone(3, 8000), sample_rate=8000)    # resampled to 16 kHz inside
    assert model.score(a, b).cosine > 0.8
    assert np.array_equal(a, model.embed(samples.tolist()))


def test_scores_rank_joe_above_another_voice(model):
    a, b, c = (model.embed(sample(n)) for n in ["joe_7400B3J1.flac", "joe_JOE02451.flac", "other_400008P3.flac"])
    same, other = model.score(a, b), model.score(a, c)
    assert same.llr is not None and same.score == same.llr
    assert same.score > other.score


def test_bad_audio(model, tmp_path):
    with pytest.raises(spkv.Error) as e:
        model.embed(tmp_path / "none.wav")
    assert e.value.status == "SPKV_ERROR_AUDIO"
    with pytest.raises(spkv.Error, match="digital silence"):
        model.embed(np.zeros(16000, dtype=np.float32))
    with pytest.raises(spkv.Error, match="rate"):
        model.embed(tone(1, 16000), sample_rate=10)
    with pytest.raises(spkv.Error, match="rate"):
        model.embed(tone(1, 16000), sample_rate=0)
    bad = tone(1, 16000)
    bad[5] = np.nan
    with pytest.raises(spkv.Error) as e:
        model.embed(bad)
    assert e.value.status == "SPKV_ERROR_AUDIO"
    with pytest.raises(spkv.Error, match="1-D"):
        model.embed(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(spkv.Error, match="size"):
        model.score(np.zeros(3, dtype=np.float32), np.zeros(3, dtype=np.float32))


def test_verify_decides_at_the_bayes_threshold(model, joe):
    yes = model.verify(joe, sample("joe_7400B3J1.flac"))
    no = model.verify(joe, sample("other_400008P3.flac"))
    assert yes.accepted and not no.accepted
    assert yes.threshold == pytest.approx(math.log(99))
    assert not model.verify(joe, sample("joe_7400B3J1.flac"), threshold=1e6).accepted
    with pytest.raises(spkv.Error, match="prior"):
        model.verify(joe, sample("joe_7400B3J1.flac"), prior=1.5)


def test_profile_round_trip(model, joe, tmp_path):
    joe.save(tmp_path / "joe.json")
    loaded = spkv.Profile.load(tmp_path / "joe.json")
    assert loaded.name == "joe"
    assert np.array_equal(loaded.embedding(), joe.embedding()) and loaded.embedding().shape == (192,)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(spkv.Error) as e:
        spkv.Profile.load(tmp_path / "broken.json")
    assert e.value.status == "SPKV_ERROR_PROFILE"


def test_enrollment_errors(model):
    with pytest.raises(spkv.Error) as e:
        model.enroll("joe", [sample(ENROLL[0])], min_speech_seconds=600)
    assert e.value.status == "SPKV_ERROR_TOO_LITTLE_SPEECH"
    with pytest.raises(spkv.Error, match="not both"):
        model.enroll("joe", [sample(ENROLL[0]), tone(1, 16000)])
    with pytest.raises(spkv.Error, match="name"):
        model.enroll("", [sample(ENROLL[0])])


def test_enroll_and_verify_arrays(model):
    profile = model.enroll("tone", [tone(3, 16000), tone(3, 16000)], min_speech_seconds=0)
    d = model.verify(profile, tone(3, 8000), sample_rate=8000, prior=0.5)
    assert d.score.cosine > 0.8


def test_streaming_session(model):
    profile = model.enroll("tone", [tone(3, 16000)], min_speech_seconds=0)
    with model.session(profile, sample_rate=8000, refresh_seconds=0.5, max_seconds=2.5, prior=0.5) as session:
        audio = tone(3, 8000)
        taken = [session.push(audio[i:i + 777]) for i in range(0, audio.size, 777)]
        assert taken[0] and not taken[-1]
        updates = session.updates()
        assert [round(u.time, 3) for u in updates] == [0.5, 1.0, 1.5, 2.0, 2.5]
        assert all(u.accepted is None or u.smoothed_score is not None for u in updates)
        verdict = session.finish()
        assert verdict.score.cosine > 0.8
        with pytest.raises(spkv.Error) as e:
            session.push(audio[:10])
        assert e.value.status == "SPKV_ERROR_STATE"
    with pytest.raises(spkv.Error, match="unknown session setting"):
        model.session(profile, windw_seconds=2)


def test_silent_session_has_no_verdict(model, joe):
    session = model.session(joe, background=1)
    session.push(np.zeros(32000, dtype=np.float32))
    with pytest.raises(spkv.Error) as e:
        session.finish()
    assert e.value.status == "SPKV_ERROR_TOO_LITTLE_SPEECH"


def test_a_model_is_shared_between_threads(model):
    reference = model.embed(sample("joe_7400B3J1.flac"))
    results = [None] * 4

    def work(i):
        results[i] = model.embed(sample("joe_7400B3J1.flac"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(r, reference) for r in results)


def test_closed_handles_are_errors(model):
    profile = model.enroll("tone", [tone(3, 16000)], min_speech_seconds=0)
    profile.close()
    profile.close()
    with pytest.raises(spkv.Error, match="closed"):
        model.verify(profile, tone(3, 16000))
