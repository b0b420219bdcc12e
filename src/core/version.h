/* baton's version: `baton --version`, the status document, `baton upgrade`'s answer, and the
 * .deb (debian/changelog must agree; a test checks). */
#ifndef BATON_VERSION_H
#define BATON_VERSION_H

#define BATON_VERSION "0.1.0"

#endif
