/* libssl through ossl.c's pointers, for the TLS transports (tlsfront.c, tlsclient.c) only: as
 * ossl_sym.h does for libcrypto, every libssl function used is #defined to the pointer
 * ossl_load_ssl() resolves, so that baton's binary has no reference to libssl and every call is
 * type-checked against OpenSSL's prototype. Macros count by what they expand to (SSL_CTX_set_mode
 * -> SSL_CTX_ctrl, SSL_CTX_set_tlsext_servername_callback -> SSL_CTX_callback_ctrl,
 * SSL_set_tlsext_host_name -> SSL_ctrl). */
#ifndef BATON_OSSL_SSL_SYM_H
#define BATON_OSSL_SSL_SYM_H

#include <openssl/ssl.h>

#include "tls/ossl_sym.h"

/* clang-format off */
#define OSSL_SSL_FUNCS(X) \
	X(SSL_CTX_callback_ctrl) \
	X(SSL_CTX_check_private_key) \
	X(SSL_CTX_ctrl) \
	X(SSL_CTX_free) \
	X(SSL_CTX_get0_certificate) \
	X(SSL_CTX_load_verify_locations) \
	X(SSL_CTX_new) \
	X(SSL_CTX_set_alpn_select_cb) \
	X(SSL_CTX_set_default_verify_paths) \
	X(SSL_CTX_set_options) \
	X(SSL_CTX_set_verify) \
	X(SSL_CTX_use_PrivateKey_file) \
	X(SSL_CTX_use_certificate_chain_file) \
	X(SSL_connect) \
	X(SSL_ctrl) \
	X(SSL_free) \
	X(SSL_get0_param) \
	X(SSL_get_error) \
	X(SSL_get_servername) \
	X(SSL_get_verify_result) \
	X(SSL_new) \
	X(SSL_read_ex) \
	X(SSL_select_next_proto) \
	X(SSL_set1_host) \
	X(SSL_set_SSL_CTX) \
	X(SSL_set_accept_state) \
	X(SSL_set_fd) \
	X(SSL_shutdown) \
	X(SSL_write_ex) \
	X(TLS_client_method) \
	X(TLS_server_method)

#define OSSL_DECLARE_SSL(f) extern __typeof__(f) *ossl_##f;
OSSL_SSL_FUNCS(OSSL_DECLARE_SSL)
#undef OSSL_DECLARE_SSL

#ifndef OSSL_NO_REDIRECT

#define SSL_CTX_callback_ctrl (*ossl_SSL_CTX_callback_ctrl)
#define SSL_CTX_check_private_key (*ossl_SSL_CTX_check_private_key)
#define SSL_CTX_ctrl (*ossl_SSL_CTX_ctrl)
#define SSL_CTX_free (*ossl_SSL_CTX_free)
#define SSL_CTX_get0_certificate (*ossl_SSL_CTX_get0_certificate)
#define SSL_CTX_load_verify_locations (*ossl_SSL_CTX_load_verify_locations)
#define SSL_CTX_new (*ossl_SSL_CTX_new)
#define SSL_CTX_set_alpn_select_cb (*ossl_SSL_CTX_set_alpn_select_cb)
#define SSL_CTX_set_default_verify_paths (*ossl_SSL_CTX_set_default_verify_paths)
#define SSL_CTX_set_options (*ossl_SSL_CTX_set_options)
#define SSL_CTX_set_verify (*ossl_SSL_CTX_set_verify)
#define SSL_CTX_use_PrivateKey_file (*ossl_SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_use_certificate_chain_file (*ossl_SSL_CTX_use_certificate_chain_file)
#define SSL_connect (*ossl_SSL_connect)
#define SSL_ctrl (*ossl_SSL_ctrl)
#define SSL_free (*ossl_SSL_free)
#define SSL_get0_param (*ossl_SSL_get0_param)
#define SSL_get_error (*ossl_SSL_get_error)
#define SSL_get_servername (*ossl_SSL_get_servername)
#define SSL_get_verify_result (*ossl_SSL_get_verify_result)
#define SSL_new (*ossl_SSL_new)
#define SSL_read_ex (*ossl_SSL_read_ex)
#define SSL_select_next_proto (*ossl_SSL_select_next_proto)
#define SSL_set1_host (*ossl_SSL_set1_host)
#define SSL_set_SSL_CTX (*ossl_SSL_set_SSL_CTX)
#define SSL_set_accept_state (*ossl_SSL_set_accept_state)
#define SSL_set_fd (*ossl_SSL_set_fd)
#define SSL_shutdown (*ossl_SSL_shutdown)
#define SSL_write_ex (*ossl_SSL_write_ex)
#define TLS_client_method (*ossl_TLS_client_method)
#define TLS_server_method (*ossl_TLS_server_method)
#endif
/* clang-format on */

#endif
