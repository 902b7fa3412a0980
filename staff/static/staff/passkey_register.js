// After a passkey is registered, go where the page says (a file, not an inline script: the
// console's Content-Security-Policy allows scripts from 'self' only).
document.addEventListener("otp_webauthn.register_complete", function () {
  var box = document.getElementById("passkey-register");
  window.location.href = (box && box.dataset.after) || "/admin/";
});
