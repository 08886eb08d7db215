"""A student's imported pictures are theirs (and their teacher's) until the teacher shares them with the class; the
runs on them follow; a quota bounds what a student keeps (cnnlab.data.ownership), on a real database."""

import pytest
from test_own_images import shapes_folder

from cnnlab import runs
from cnnlab.classroom import accounts, classes, sessions
from cnnlab.compute import jobs
from cnnlab.course import exports
from cnnlab.data import catalogue, own_images, ownership, sources
from cnnlab.data.uploads import ImportRefused
from cnnlab.errors import CnnlabError, DatasetUnavailable, NotAllowed
from cnnlab.training import TrainConfig


@pytest.fixture
def people(isolated):
    """A teacher with two students in one class, and another teacher with a student in another, as Who."""
    rivera = accounts.add_teacher("Ms Rivera", "a-long-password")
    ortiz = accounts.add_teacher("Mr Ortiz", "another-long-password")
    first = classes.create(rivera.id, "CNN 2027")
    other = classes.create(ortiz.id, "Vision 2027")
    sol = classes.join(first.join_code, "Sol", "127.0.0.1")[0]
    mar = classes.join(first.join_code, "Mar", "127.0.0.1")[0]
    noa = classes.join(other.join_code, "Noa", "127.0.0.1")[0]
    return {name: sessions.person(person.id) for name, person in
            {"rivera": rivera, "ortiz": ortiz, "sol": sol, "mar": mar, "noa": noa}.items()}


def import_as(who, tmp_path, name="shapes", per_class=6):
    folder = tmp_path / f"{name}-{who.person_id}"
    return own_images.import_images(shapes_folder(folder, per_class=per_class), name, who=who)


def test_a_students_import_is_theirs_and_their_teachers_and_nobody_elses(people, tmp_path):
    sol = people["sol"]
    info = import_as(sol, tmp_path)
    assert info.name == f"shapes.p{sol.person_id}" and info.title == "shapes"
    for who in (sol, people["rivera"], sessions.OWNER):
        assert info.name in ownership.names(who), who.role
    for who in (people["mar"], people["noa"], people["ortiz"], sessions.GUEST):
        assert info.name not in ownership.names(who), who.name
        with pytest.raises(DatasetUnavailable, match="Unknown dataset"):  # says nothing of whose it is
            ownership.require_use(who, info.name)
        assert info.name not in [row["dataset"] for row in sources.describe_sources(who=who)]
    assert info.name in [row["dataset"] for row in sources.describe_sources(who=sol)]


def test_two_students_import_the_same_name_and_each_keeps_their_own(people, tmp_path):
    sol, mar = people["sol"], people["mar"]
    first = import_as(sol, tmp_path, per_class=6)
    second = import_as(mar, tmp_path, per_class=8)
    assert first.name != second.name and first.full_sizes != second.full_sizes
    assert catalogue.get_info(first.name).full_sizes == first.full_sizes  # Mar's did not replace Sol's
    assert [n for n in ownership.names(sol) if catalogue.is_own(n)] == [first.name]
    assert [n for n in ownership.names(mar) if catalogue.is_own(n)] == [second.name]


def test_a_teachers_import_is_the_whole_servers_as_before(people, tmp_path):
    info = import_as(people["rivera"], tmp_path)
    assert info.name == "shapes" and ownership.owner_of("shapes") is None
    for who in (people["sol"], people["noa"], sessions.GUEST):
        assert "shapes" in ownership.names(who)


def test_a_guest_may_not_import(people, tmp_path):
    with pytest.raises(NotAllowed, match="signed in may import"):
        import_as(sessions.GUEST, tmp_path)
    assert catalogue.own_names() == []


def test_runs_on_private_pictures_are_hidden_from_lists_links_settings_and_the_queue(people, tmp_path):
    sol, mar = people["sol"], people["mar"]
    info = import_as(sol, tmp_path)
    store = runs.RunStore()
    config = TrainConfig(dataset=info.name, architecture="fast", epochs=1, batch_size=8)
    run, _ = store.get_or_train(config)
    assert [r.id for r in store.list(who=sol)] == [run.id] == [r.id for r in store.list(who=people["rivera"])]
    assert store.list(who=mar) == [] and store.list(who=people["ortiz"]) == []
    assert exports.find_run(store, run.id, who=sol).id == run.id
    for text in (run.id, run.id[:8]):  # the whole id, or its start, as a link carries it
        with pytest.raises(CnnlabError, match="No stored run"):
            exports.find_run(store, text, who=mar)
    with pytest.raises(DatasetUnavailable):
        exports.config_from_query({"dataset": info.name, "network": "fast"}, who=mar)
    assert exports.config_from_query({"dataset": info.name, "network": "fast"}, who=sol).dataset == info.name
    queue = jobs.TrainingQueue(store)
    with pytest.raises(DatasetUnavailable):
        queue.submit(config, who=mar)
    assert queue.jobs() == []
    assert queue.submit(config, who=sol).id == run.id  # its owner gets the stored run back


def test_the_teacher_shares_a_students_pictures_with_that_class_only(people, tmp_path):
    sol, mar, noa = people["sol"], people["mar"], people["noa"]
    info = import_as(sol, tmp_path)
    for who in (sol, mar, people["ortiz"]):  # a student, a classmate, another class's teacher
        with pytest.raises(NotAllowed):
            ownership.share(info.name, True, who=who)
    ownership.share(info.name, True, who=people["rivera"])
    assert info.name in ownership.names(mar) and info.name not in ownership.names(noa)
    assert ownership.owner_of(info.name) == {"person_id": sol.person_id, "class_id": sol.class_id, "shared": True,
                                             "name": "Sol"}
    ownership.share(info.name, False, who=people["rivera"])
    assert info.name not in ownership.names(mar)
    ownership.share(info.name, True, who=people["rivera"])
    # the very same pictures again (the folder is drawn from the same seeds): still shared
    own_images.import_images(shapes_folder(tmp_path / "again", per_class=6), "shapes", who=sol)
    assert info.name in ownership.names(mar)
    own_images.import_images(shapes_folder(tmp_path / "other", per_class=7), "shapes", who=sol)  # new ones
    assert info.name not in ownership.names(mar)  # private until the teacher has seen them
    with pytest.raises(DatasetUnavailable, match="whole class"):
        ownership.share(import_as(people["rivera"], tmp_path, name="leaves").name, True, who=people["rivera"])


def test_a_student_deletes_their_own_pictures_and_only_theirs(people, tmp_path):
    sol, mar = people["sol"], people["mar"]
    store = runs.RunStore()
    mine, theirs = import_as(sol, tmp_path), import_as(mar, tmp_path, name="leaves")
    run, _ = store.get_or_train(TrainConfig(dataset=mine.name, architecture="fast", epochs=1, batch_size=8))
    with pytest.raises(NotAllowed, match="Only a teacher"):  # another class's teacher, who has the run's id
        store.delete(run.id, who=people["ortiz"])
    with pytest.raises(NotAllowed, match="Only a teacher"):
        own_images.delete(theirs.name, store, who=sol)
    with pytest.raises(NotAllowed, match="Only a teacher"):
        own_images.delete(mine.name, store, who=people["ortiz"])  # a teacher who cannot see it
    assert own_images.delete(mine.name, store, who=sol) == 1
    assert catalogue.own_names() == [theirs.name] and store.list() == []
    assert own_images.delete(theirs.name, store, who=people["rivera"]) == 0  # Mar's teacher may


def test_a_quota_bounds_what_a_student_keeps_and_a_refusal_writes_nothing(people, tmp_path, monkeypatch):
    sol = people["sol"]
    monkeypatch.setenv("CNNLAB_STUDENT_QUOTA_MB", "0.05")  # 52,428 bytes: 66 grey 28×28 pictures
    first = import_as(sol, tmp_path, per_class=12)  # 36 pictures: 28,224 bytes
    assert ownership.used_bytes(sol.person_id) == 36 * 28 * 28
    with pytest.raises(ImportRefused, match="These pictures would take") as refused:
        import_as(sol, tmp_path, name="leaves", per_class=12)
    assert "delete one of your datasets" in str(refused.value)
    assert catalogue.own_names() == [first.name]
    assert ownership.used_bytes(people["mar"].person_id) == 0
    import_as(people["mar"], tmp_path, name="leaves", per_class=12)  # a quota each
    import_as(people["rivera"], tmp_path, name="class-set", per_class=30)  # a teacher's import has none


@pytest.mark.parametrize("damage", ["unreadable", "missing", "someone else's"])
def test_an_owner_file_damaged_or_gone_keeps_the_pictures_private_to_whom_the_key_names(people, tmp_path, damage):
    sol = people["sol"]
    info = import_as(sol, tmp_path)
    run, _ = runs.RunStore().get_or_train(TrainConfig(dataset=info.name, architecture="fast", epochs=1, batch_size=8))
    path = catalogue.own_root() / info.name / ownership.OWNER_FILE
    if damage == "unreadable":
        path.write_text("{not json")
    elif damage == "missing":
        path.unlink()
    else:
        path.write_text('{"person_id": %d, "class_id": %d, "shared": true}' % (people["mar"].person_id,
                                                                               sol.class_id))
    for who in (people["mar"], people["noa"], sessions.GUEST):
        assert info.name not in ownership.names(who) and runs.RunStore().list(who=who) == []
    assert info.name in ownership.names(sol) and info.name in ownership.names(sessions.OWNER)
    assert [r.id for r in runs.RunStore().list(who=sol)] == [run.id]


def test_an_unknown_dataset_is_a_sentence_that_names_no_students_pictures(people, tmp_path):
    info = import_as(people["sol"], tmp_path)
    import_as(people["rivera"], tmp_path, name="class-set")
    for who in (sessions.GUEST, people["mar"]):
        with pytest.raises(CnnlabError) as refused:
            exports.config_from_query({"dataset": "nope", "network": "fast"}, who=who)
        assert "class-set" in str(refused.value) and info.name not in str(refused.value)
        with pytest.raises(CnnlabError) as refused:
            ownership.require_use(who, info.name)
        assert info.name.split(".")[1] not in str(refused.value).replace(info.name, "")


def test_a_run_whose_pictures_were_deleted_stays_its_students(people, tmp_path):
    sol = people["sol"]
    info = import_as(sol, tmp_path)
    store = runs.RunStore()
    run, _ = store.get_or_train(TrainConfig(dataset=info.name, architecture="fast", epochs=1, batch_size=8))
    import shutil
    shutil.rmtree(catalogue.own_root() / info.name)  # the pictures gone behind cnnlab's back; the run kept
    assert store.list(who=people["mar"]) == [] and [r.id for r in store.list(who=sol)] == [run.id]


def test_two_imports_at_once_from_two_tabs_are_counted_one_after_the_other(people, tmp_path, monkeypatch):
    import threading

    sol = people["sol"]
    monkeypatch.setenv("CNNLAB_STUDENT_QUOTA_MB", str(1.5 * 36 * 28 * 28 / ownership.MB))  # room for one of the two
    folders = {name: shapes_folder(tmp_path / name, per_class=12) for name in ("left", "right")}
    start, outcomes = threading.Barrier(2), {}

    def import_(name):
        start.wait()
        try:
            outcomes[name] = own_images.import_images(folders[name], name, who=sol).name
        except ImportRefused as refused:
            outcomes[name] = refused

    threads = [threading.Thread(target=import_, args=(name,)) for name in folders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    kept = [value for value in outcomes.values() if isinstance(value, str)]
    refused = [value for value in outcomes.values() if isinstance(value, ImportRefused)]
    assert len(kept) == 1 and len(refused) == 1 and "would take" in str(refused[0])
    assert catalogue.own_names() == kept and ownership.used_bytes(sol.person_id) == 36 * 28 * 28


def test_pictures_made_private_again_before_a_classmates_training_starts_are_not_trained_on(people, tmp_path):
    from test_jobs import blocked_queue

    sol, mar = people["sol"], people["mar"]
    info = import_as(sol, tmp_path)
    ownership.share(info.name, True, who=people["rivera"])
    queue, holder, lock = blocked_queue()  # the worker busy: Mar's training waits in line
    try:
        job = queue.submit(TrainConfig(dataset=info.name, architecture="fast", epochs=1, batch_size=8), who=mar)
        ownership.share(info.name, False, who=people["rivera"])
    finally:
        lock.release()
    assert queue.wait(job, timeout=180) and job.status == "failed"
    assert "no longer shared with the students waiting" in str(job.error)
    assert all(run.config.dataset != info.name for run in runs.RunStore().list())


def test_a_training_made_private_again_trains_for_its_owner_and_names_nobody_elses_pictures(people, tmp_path):
    from test_jobs import blocked_queue

    sol, mar = people["sol"], people["mar"]
    info, diary = import_as(sol, tmp_path), import_as(mar, tmp_path, name="diary")
    ownership.share(info.name, True, who=people["rivera"])
    config = TrainConfig(dataset=info.name, architecture="fast", epochs=1, batch_size=8)
    queue, holder, lock = blocked_queue()
    try:
        job = queue.submit(config, who=mar)  # Mar asked first; Sol, whose pictures they are, joins
        assert queue.submit(config, who=sol) is job
        ownership.share(info.name, False, who=people["rivera"])
    finally:
        lock.release()
    assert queue.wait(job, timeout=180) and job.status == "done", job.error
    on_it = [run.id for run in runs.RunStore().list() if run.config.dataset == info.name]
    assert on_it == [job.id] and job.id in [run.id for run in runs.RunStore().list(who=sol)]
    assert job.id not in [run.id for run in runs.RunStore().list(who=mar)]
    assert diary.name not in str(job.error or "")


def test_a_settings_link_tells_nobody_whether_a_students_pictures_exist(people, tmp_path):
    info = import_as(people["sol"], tmp_path)
    said = []
    for dataset in (info.name, "nothere.p%d" % people["sol"].person_id):
        with pytest.raises(CnnlabError) as refused:
            exports.config_from_query({"dataset": dataset, "optimizer": "zzz"}, who=people["mar"])
        said.append(str(refused.value).replace(dataset, "<name>"))
    assert said[0] == said[1] and "Unknown dataset" in said[0]
