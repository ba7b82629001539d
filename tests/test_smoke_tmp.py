from helpers import DATASETS, queries


def test_create_dataset(api, project):
    for i in range(3):
        r = api.post(DATASETS, json={"name": f"train{i}"})
        assert r.status_code == 201, r.get_json()
        assert queries(r) == 3
    assert api.delete(DATASETS + "/train1").status_code == 200
    r = api.get(DATASETS + "?pageSize=1&page=9")
    assert r.get_json()["total"] == 2, r.get_json()
    assert queries(r) == 3
