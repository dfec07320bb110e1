(function () {
  'use strict';
  Risk.strings({
    zh: {
      'forbidden.title': '无权访问',
      'forbidden.heading': '无权访问此页面',
      'forbidden.text': '你以“{role}”身份登录，此页面不对该角色开放。',
      'forbidden.home': '返回我的首页',
    },
    en: {
      'forbidden.title': 'Not allowed',
      'forbidden.heading': 'You may not open this page',
      'forbidden.text': 'You are logged in as {role}; this page is not open to that role.',
      'forbidden.home': 'Go to my home page',
    },
  });
  let role = null;
  function render() {
    document.getElementById('forbidden-text').textContent = role
      ? Risk.t('forbidden.text', { role: Risk.roleLabel(role) })
      : '';
  }
  Risk.onLang(render);
  Risk.header('forbidden.title').then((user) => {
    role = user.role;
    render();
  });
})();
