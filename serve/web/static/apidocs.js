/* Starts Swagger UI on the API docs page (serve/web/apidocs.py): local files only, no
 * validator badge (it would call an outside server). */
(function () {
  'use strict';
  const box = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: box.dataset.openapi,
    dom_id: '#swagger-ui',
    validatorUrl: null,
    deepLinking: true,
  });
})();
