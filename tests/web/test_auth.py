from tests.conftest import PASSWORD, login, make_user


def test_login_then_logout(client):
    user = make_user("sales")
    response = login(client, user)
    assert response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    assert client.post("/logout").status_code == 303
    assert client.get("/dashboard").status_code == 302


def test_wrong_password_is_refused_in_words_and_keeps_the_email(client):
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": "nope"})
    assert response.status_code == 401
    assert "do not match" in response.text and f'value="{user.email}"' in response.text


def test_login_returns_to_the_page_asked_for_but_never_off_site(client):
    user = make_user()
    ok = client.post("/login?next=/library?stage=decision", data={"email": user.email, "password": PASSWORD})
    assert ok.headers["Location"] == "/library?stage=decision"
    client.post("/logout")
    for target in ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"]:
        response = client.post(f"/login?next={target}", data={"email": user.email, "password": PASSWORD})
        assert response.headers["Location"] == "/dashboard", target
        client.post("/logout")


def test_browser_language_is_the_default_and_the_switch_overrides_it(client):
    login(client, make_user())
    korean = client.get("/library", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"})
    assert '<html lang="ko">' in korean.text and "콘텐츠 라이브러리" in korean.text
    client.post("/language", data={"locale": "en", "next": "/library"})
    english = client.get("/library", headers={"Accept-Language": "ko-KR"})
    assert '<html lang="en">' in english.text and "Content library" in english.text


def test_language_choice_is_remembered_for_the_user(client, app):
    user = make_user()
    login(client, user)
    client.post("/language", data={"locale": "ko"})
    assert user.locale == "ko"
    other = app.test_client()
    login(other, user)
    assert '<html lang="ko">' in other.get("/dashboard").text


def test_dates_and_numbers_follow_the_locale(client):
    from tests.conftest import make_asset

    user = make_user()
    make_asset(user)
    login(client, user)
    english = client.get("/library", headers={"Accept-Language": "en"}).text
    korean = client.get("/library", headers={"Accept-Language": "ko"}).text
    assert "11/2/26" in english
    assert "26. 11. 2." in korean
