// Posts the identity provider's answer again from devpulse's own page (see
// server/src/api/sso/form_post.rs): the browser sends the sign-in's SameSite cookie only
// with a post from this site. Without JavaScript the page's button does the same.
document.getElementById('relay').submit();
