(function () {
  'use strict';
  Risk.strings({
    zh: {
      'login.title': '登录',
      'login.heading': '登录',
      'login.intro': '请使用分配给你的账号登录。',
      'login.username': '用户名',
      'login.password': '密码',
      'login.missing': '请输入用户名和密码。',
      'login.wrong': '用户名或密码错误。',
      'login.busy': '正在登录…',
    },
    en: {
      'login.title': 'Log in',
      'login.heading': 'Log in',
      'login.intro': 'Log in with the account you were given.',
      'login.username': 'Username',
      'login.password': 'Password',
      'login.missing': 'Enter your username and password.',
      'login.wrong': 'Wrong username or password.',
      'login.busy': 'Logging in…',
    },
  });
  Risk.header('login.title', { public: true });

  function nextPath() {
    const next = new URLSearchParams(window.location.search).get('next') || '';
    const safe = next.startsWith('/') && !next.startsWith('//') && !next.includes('\\');
    return safe ? next : '/';
  }

  const form = document.getElementById('login-form');
  const box = document.getElementById('login-error');
  const submit = document.getElementById('login-submit');
  let lastError = null;

  // key: a string key (re-translated on a language switch); text: a message as given.
  function showError(key, text) {
    lastError = [key, text];
    box.textContent = key ? Risk.t(key) : text;
    box.hidden = false;
  }
  Risk.onLang(() => lastError && showError(lastError[0], lastError[1]));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = form.username.value.trim();
    const password = form.password.value;
    if (!username || !password) {
      showError('login.missing');
      return;
    }
    submit.disabled = true;
    submit.textContent = Risk.t('login.busy');
    try {
      await Risk.api('/auth/login', { method: 'POST', body: { username, password } });
      window.location.assign(nextPath());
    } catch (err) {
      if (err.status === 401) showError('login.wrong');
      else showError(null, Risk.errorText(err));
      form.password.value = '';
      form.password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = Risk.t('btn.login');
    }
  });
})();
