/* libcrypto through ossl.c's pointers, for certcheck*.c, tlsclient.c (through ossl_ssl_sym.h)
 * and ossl.c only: include this instead of any <openssl/...> header. It includes OpenSSL's
 * headers for their types, constants and macros, then #defines every libcrypto function
 * certcheck calls to the pointer ossl_load() resolves: `X509_free(x)` becomes
 * `(*ossl_X509_free)(x)`, so baton's binary has no reference to libcrypto, and every call is
 * still type-checked against OpenSSL's own prototype (each pointer is declared with __typeof__
 * of the function). Nothing here may be called before ossl_load() succeeded: certcheck_pair()
 * loads first.
 *
 * To call another OpenSSL function: add it to OSSL_FUNCS and to the #defines below. Macros
 * and inline functions count by what they expand to (sk_X509_* -> OPENSSL_sk_*, OPENSSL_free
 * -> CRYPTO_free, BIO_get_mem_data -> BIO_ctrl): a function left out makes the link of
 * build/baton fail with an undefined reference, since baton is not linked with -lcrypto. */
#ifndef BATON_OSSL_SYM_H
#define BATON_OSSL_SYM_H

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/safestack.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "tls/ossl.h"

/* clang-format off */
#define OSSL_FUNCS(X) \
	X(ASN1_INTEGER_to_BN) \
	X(ASN1_STRING_get0_data) \
	X(ASN1_STRING_length) \
	X(ASN1_STRING_to_UTF8) \
	X(ASN1_TIME_to_tm) \
	X(BIO_ctrl) \
	X(BIO_free) \
	X(BIO_new) \
	X(BIO_new_mem_buf) \
	X(BIO_s_mem) \
	X(BN_bn2hex) \
	X(BN_free) \
	X(CRYPTO_clear_free) \
	X(CRYPTO_free) \
	X(EC_curve_nid2nist) \
	X(ERR_clear_error) \
	X(ERR_error_string_n) \
	X(ERR_get_error) \
	X(ERR_peek_error) \
	X(EVP_DigestFinal_ex) \
	X(EVP_DigestInit_ex) \
	X(EVP_DigestUpdate) \
	X(EVP_MD_CTX_free) \
	X(EVP_MD_CTX_new) \
	X(EVP_PKCS82PKEY) \
	X(EVP_PKEY_CTX_free) \
	X(EVP_PKEY_CTX_new_from_pkey) \
	X(EVP_PKEY_eq) \
	X(EVP_PKEY_free) \
	X(EVP_PKEY_get0_type_name) \
	X(EVP_PKEY_get_base_id) \
	X(EVP_PKEY_get_bits) \
	X(EVP_PKEY_get_utf8_string_param) \
	X(EVP_PKEY_pairwise_check) \
	X(EVP_sha256) \
	X(GENERAL_NAMES_free) \
	X(OBJ_txt2nid) \
	X(OPENSSL_cleanse) \
	X(OPENSSL_sk_free) \
	X(OPENSSL_sk_new_null) \
	X(OPENSSL_sk_num) \
	X(OPENSSL_sk_pop_free) \
	X(OPENSSL_sk_push) \
	X(OPENSSL_sk_value) \
	X(PEM_read_bio_ex) \
	X(PKCS8_PRIV_KEY_INFO_free) \
	X(X509_NAME_ENTRY_get_data) \
	X(X509_NAME_get_entry) \
	X(X509_NAME_get_index_by_NID) \
	X(X509_NAME_print_ex) \
	X(X509_STORE_CTX_free) \
	X(X509_STORE_CTX_get0_cert) \
	X(X509_STORE_CTX_get0_param) \
	X(X509_STORE_CTX_get0_untrusted) \
	X(X509_STORE_CTX_get_current_cert) \
	X(X509_STORE_CTX_get_error) \
	X(X509_STORE_CTX_init) \
	X(X509_STORE_CTX_new) \
	X(X509_STORE_CTX_set_purpose) \
	X(X509_STORE_CTX_set_verify_cb) \
	X(X509_STORE_add_cert) \
	X(X509_STORE_free) \
	X(X509_STORE_new) \
	X(X509_VERIFY_PARAM_set1_ip_asc) \
	X(X509_VERIFY_PARAM_set_flags) \
	X(X509_VERIFY_PARAM_set_time) \
	X(X509_check_host) \
	X(X509_cmp) \
	X(X509_digest) \
	X(X509_free) \
	X(X509_get0_notAfter) \
	X(X509_get0_notBefore) \
	X(X509_get0_pubkey) \
	X(X509_get0_serialNumber) \
	X(X509_get_ext_d2i) \
	X(X509_get_subject_name) \
	X(X509_verify_cert) \
	X(X509_verify_cert_error_string) \
	X(d2i_PKCS8_PRIV_KEY_INFO) \
	X(d2i_PrivateKey) \
	X(d2i_X509) \
	X(d2i_X509_AUX)

#define OSSL_DECLARE(f) extern __typeof__(f) *ossl_##f;
OSSL_FUNCS(OSSL_DECLARE)
#undef OSSL_DECLARE

#ifndef OSSL_NO_REDIRECT /* ossl.c needs the real names for __typeof__ and dlsym */
#define ASN1_INTEGER_to_BN (*ossl_ASN1_INTEGER_to_BN)
#define ASN1_STRING_get0_data (*ossl_ASN1_STRING_get0_data)
#define ASN1_STRING_length (*ossl_ASN1_STRING_length)
#define ASN1_STRING_to_UTF8 (*ossl_ASN1_STRING_to_UTF8)
#define ASN1_TIME_to_tm (*ossl_ASN1_TIME_to_tm)
#define BIO_ctrl (*ossl_BIO_ctrl)
#define BIO_free (*ossl_BIO_free)
#define BIO_new (*ossl_BIO_new)
#define BIO_new_mem_buf (*ossl_BIO_new_mem_buf)
#define BIO_s_mem (*ossl_BIO_s_mem)
#define BN_bn2hex (*ossl_BN_bn2hex)
#define BN_free (*ossl_BN_free)
#define CRYPTO_clear_free (*ossl_CRYPTO_clear_free)
#define CRYPTO_free (*ossl_CRYPTO_free)
#define EC_curve_nid2nist (*ossl_EC_curve_nid2nist)
#define ERR_clear_error (*ossl_ERR_clear_error)
#define ERR_error_string_n (*ossl_ERR_error_string_n)
#define ERR_get_error (*ossl_ERR_get_error)
#define ERR_peek_error (*ossl_ERR_peek_error)
#define EVP_DigestFinal_ex (*ossl_EVP_DigestFinal_ex)
#define EVP_DigestInit_ex (*ossl_EVP_DigestInit_ex)
#define EVP_DigestUpdate (*ossl_EVP_DigestUpdate)
#define EVP_MD_CTX_free (*ossl_EVP_MD_CTX_free)
#define EVP_MD_CTX_new (*ossl_EVP_MD_CTX_new)
#define EVP_PKCS82PKEY (*ossl_EVP_PKCS82PKEY)
#define EVP_PKEY_CTX_free (*ossl_EVP_PKEY_CTX_free)
#define EVP_PKEY_CTX_new_from_pkey (*ossl_EVP_PKEY_CTX_new_from_pkey)
#define EVP_PKEY_eq (*ossl_EVP_PKEY_eq)
#define EVP_PKEY_free (*ossl_EVP_PKEY_free)
#define EVP_PKEY_get0_type_name (*ossl_EVP_PKEY_get0_type_name)
#define EVP_PKEY_get_base_id (*ossl_EVP_PKEY_get_base_id)
#define EVP_PKEY_get_bits (*ossl_EVP_PKEY_get_bits)
#define EVP_PKEY_get_utf8_string_param (*ossl_EVP_PKEY_get_utf8_string_param)
#define EVP_PKEY_pairwise_check (*ossl_EVP_PKEY_pairwise_check)
#define EVP_sha256 (*ossl_EVP_sha256)
#define GENERAL_NAMES_free (*ossl_GENERAL_NAMES_free)
#define OBJ_txt2nid (*ossl_OBJ_txt2nid)
#define OPENSSL_cleanse (*ossl_OPENSSL_cleanse)
#define OPENSSL_sk_free (*ossl_OPENSSL_sk_free)
#define OPENSSL_sk_new_null (*ossl_OPENSSL_sk_new_null)
#define OPENSSL_sk_num (*ossl_OPENSSL_sk_num)
#define OPENSSL_sk_pop_free (*ossl_OPENSSL_sk_pop_free)
#define OPENSSL_sk_push (*ossl_OPENSSL_sk_push)
#define OPENSSL_sk_value (*ossl_OPENSSL_sk_value)
#define PEM_read_bio_ex (*ossl_PEM_read_bio_ex)
#define PKCS8_PRIV_KEY_INFO_free (*ossl_PKCS8_PRIV_KEY_INFO_free)
#define X509_NAME_ENTRY_get_data (*ossl_X509_NAME_ENTRY_get_data)
#define X509_NAME_get_entry (*ossl_X509_NAME_get_entry)
#define X509_NAME_get_index_by_NID (*ossl_X509_NAME_get_index_by_NID)
#define X509_NAME_print_ex (*ossl_X509_NAME_print_ex)
#define X509_STORE_CTX_free (*ossl_X509_STORE_CTX_free)
#define X509_STORE_CTX_get0_cert (*ossl_X509_STORE_CTX_get0_cert)
#define X509_STORE_CTX_get0_param (*ossl_X509_STORE_CTX_get0_param)
#define X509_STORE_CTX_get0_untrusted (*ossl_X509_STORE_CTX_get0_untrusted)
#define X509_STORE_CTX_get_current_cert (*ossl_X509_STORE_CTX_get_current_cert)
#define X509_STORE_CTX_get_error (*ossl_X509_STORE_CTX_get_error)
#define X509_STORE_CTX_init (*ossl_X509_STORE_CTX_init)
#define X509_STORE_CTX_new (*ossl_X509_STORE_CTX_new)
#define X509_STORE_CTX_set_purpose (*ossl_X509_STORE_CTX_set_purpose)
#define X509_STORE_CTX_set_verify_cb (*ossl_X509_STORE_CTX_set_verify_cb)
#define X509_STORE_add_cert (*ossl_X509_STORE_add_cert)
#define X509_STORE_free (*ossl_X509_STORE_free)
#define X509_STORE_new (*ossl_X509_STORE_new)
#define X509_VERIFY_PARAM_set1_ip_asc (*ossl_X509_VERIFY_PARAM_set1_ip_asc)
#define X509_VERIFY_PARAM_set_flags (*ossl_X509_VERIFY_PARAM_set_flags)
#define X509_VERIFY_PARAM_set_time (*ossl_X509_VERIFY_PARAM_set_time)
#define X509_check_host (*ossl_X509_check_host)
#define X509_cmp (*ossl_X509_cmp)
#define X509_digest (*ossl_X509_digest)
#define X509_free (*ossl_X509_free)
#define X509_get0_notAfter (*ossl_X509_get0_notAfter)
#define X509_get0_notBefore (*ossl_X509_get0_notBefore)
#define X509_get0_pubkey (*ossl_X509_get0_pubkey)
#define X509_get0_serialNumber (*ossl_X509_get0_serialNumber)
#define X509_get_ext_d2i (*ossl_X509_get_ext_d2i)
#define X509_get_subject_name (*ossl_X509_get_subject_name)
#define X509_verify_cert (*ossl_X509_verify_cert)
#define X509_verify_cert_error_string (*ossl_X509_verify_cert_error_string)
#define d2i_PKCS8_PRIV_KEY_INFO (*ossl_d2i_PKCS8_PRIV_KEY_INFO)
#define d2i_PrivateKey (*ossl_d2i_PrivateKey)
#define d2i_X509 (*ossl_d2i_X509)
#define d2i_X509_AUX (*ossl_d2i_X509_AUX)
#endif
/* clang-format on */

#endif
