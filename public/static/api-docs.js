// Starts Swagger UI on /api/docs. A file rather than an inline script so the page's CSP can stay
// `script-src 'self'`.
const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({
  url: root.dataset.specUrl,
  domNode: root,
  deepLinking: true,
  tryItOutEnabled: false,
});
