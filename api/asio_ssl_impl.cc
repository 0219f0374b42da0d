// The one translation unit that compiles Asio's non-template SSL code
// (BOOST_ASIO_SEPARATE_COMPILATION; base/asio_impl.cc has the rest), here since only the API's
// HTTPS uses it.
#include <boost/asio/ssl/impl/src.hpp>
